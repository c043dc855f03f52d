"""The client side: every call of a vrs client carries `authorization: Bearer <token>`.

Interceptors, not call credentials: gRPC sends call credentials over secure channels only, and
a token must work over a plaintext loopback channel too (tests, a demo behind a proxy).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import grpc

from vrs.auth.credentials import AUTHORIZATION

if TYPE_CHECKING:
    _UnaryUnary = grpc.UnaryUnaryClientInterceptor[Any, Any]
    _UnaryStream = grpc.UnaryStreamClientInterceptor[Any, Any]
    _StreamUnary = grpc.StreamUnaryClientInterceptor[Any, Any]
    _StreamStream = grpc.StreamStreamClientInterceptor[Any, Any]
    _AioUU = grpc.aio.UnaryUnaryClientInterceptor[Any, Any]
    _AioUS = grpc.aio.UnaryStreamClientInterceptor[Any, Any]
    _AioSU = grpc.aio.StreamUnaryClientInterceptor[Any, Any]
    _AioSS = grpc.aio.StreamStreamClientInterceptor[Any, Any]
else:
    _UnaryUnary = grpc.UnaryUnaryClientInterceptor
    _UnaryStream = grpc.UnaryStreamClientInterceptor
    _StreamUnary = grpc.StreamUnaryClientInterceptor
    _StreamStream = grpc.StreamStreamClientInterceptor
    _AioUU = grpc.aio.UnaryUnaryClientInterceptor
    _AioUS = grpc.aio.UnaryStreamClientInterceptor
    _AioSU = grpc.aio.StreamUnaryClientInterceptor
    _AioSS = grpc.aio.StreamStreamClientInterceptor


def with_token(metadata: Any, token: str) -> list[tuple[str, str | bytes]]:
    """The call's metadata plus the bearer token; a call that set its own keeps it."""
    items = [(str(k), v) for k, v in (metadata or ())]
    if not any(k.lower() == AUTHORIZATION for k, _ in items):
        items.append((AUTHORIZATION, f"Bearer {token}"))
    return items


class _CallDetails(NamedTuple):
    method: str
    timeout: float | None
    metadata: Sequence[tuple[str, str | bytes]] | None
    credentials: grpc.CallCredentials | None
    wait_for_ready: bool | None
    compression: grpc.Compression | None


class BearerTokenInterceptor(_UnaryUnary, _UnaryStream, _StreamUnary, _StreamStream):
    """Adds the bearer token to every call of a blocking channel (grpc.intercept_channel)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        return _CallDetails(  # type: ignore[return-value]
            details.method,
            details.timeout,
            with_token(details.metadata, self._token),
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(
        self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, request: Any
    ) -> Any:
        return continuation(self._details(details), request)

    def intercept_stream_unary(
        self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, requests: Any
    ) -> Any:
        return continuation(self._details(details), requests)

    def intercept_stream_stream(
        self, continuation: Callable[..., Any], details: grpc.ClientCallDetails, requests: Any
    ) -> Any:
        return continuation(self._details(details), requests)


def _aio_details(details: grpc.aio.ClientCallDetails, token: str) -> grpc.aio.ClientCallDetails:
    return grpc.aio.ClientCallDetails(
        method=details.method,
        timeout=details.timeout,
        metadata=grpc.aio.Metadata(*with_token(details.metadata, token)),
        credentials=details.credentials,
        wait_for_ready=details.wait_for_ready,
    )


class _AioUnaryUnary(_AioUU):
    def __init__(self, token: str) -> None:
        self._token = token

    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(_aio_details(details, self._token), request)


class _AioUnaryStream(_AioUS):
    def __init__(self, token: str) -> None:
        self._token = token

    async def intercept_unary_stream(
        self, continuation: Callable[..., Any], details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(_aio_details(details, self._token), request)


class _AioStreamUnary(_AioSU):
    def __init__(self, token: str) -> None:
        self._token = token

    async def intercept_stream_unary(
        self, continuation: Callable[..., Any], details: grpc.aio.ClientCallDetails, requests: Any
    ) -> Any:
        return await continuation(_aio_details(details, self._token), requests)


class _AioStreamStream(_AioSS):
    def __init__(self, token: str) -> None:
        self._token = token

    async def intercept_stream_stream(
        self, continuation: Callable[..., Any], details: grpc.aio.ClientCallDetails, requests: Any
    ) -> Any:
        return await continuation(_aio_details(details, self._token), requests)


def aio_bearer_interceptors(token: str) -> list[Any]:
    """Interceptors for grpc.aio channels (`interceptors=`): one per call shape, as grpc.aio
    dispatches on the class."""
    return [
        _AioUnaryUnary(token),
        _AioUnaryStream(token),
        _AioStreamUnary(token),
        _AioStreamStream(token),
    ]
