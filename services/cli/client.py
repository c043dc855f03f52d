"""A blocking gRPC client for the CLI, with errors as one clear line."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc

from services.cli.connection import unreachable_hint
from vrs.rpc.client import open_channel
from vrs.settings import ClientSettings
from vrs.v1 import embedder_pb2, embedder_pb2_grpc, search_pb2, search_pb2_grpc

T = TypeVar("T")
DEFAULT_ADDRESS = "127.0.0.1:50051"


class CliError(Exception):
    """A failure to report as one line (no traceback) with a non-zero exit code."""


class VrsClient:
    """The CLI's connection to one vrs server: TLS, client certificate and token as
    `settings` say (plaintext without them)."""

    def __init__(
        self, address: str, settings: ClientSettings | None = None, timeout_s: float = 60.0
    ) -> None:
        self.address = address
        self._timeout_s = timeout_s
        self._settings = settings if settings is not None else ClientSettings.model_construct()
        size = 64 * 1024 * 1024
        self._channel = open_channel(
            address,
            self._settings,
            aio=False,
            options=[
                ("grpc.max_send_message_length", size),
                ("grpc.max_receive_message_length", size),
            ],
        )
        self.embedder = embedder_pb2_grpc.EmbedderServiceStub(self._channel)
        self.search = search_pb2_grpc.SearchServiceStub(self._channel)

    def call(self, method: Callable[..., T], request: Any, timeout_s: float | None = None) -> T:
        try:
            return method(request, timeout=timeout_s or self._timeout_s, wait_for_ready=False)
        except grpc.RpcError as exc:
            raise self._error(exc) from exc

    def stream(self, method: Callable[..., T], requests: Iterator[Any]) -> T:
        """A client-streaming call; no deadline (a catalog takes as long as it takes)."""
        try:
            return method(requests)
        except grpc.RpcError as exc:
            raise self._error(exc) from exc

    def embedder_stats(self) -> embedder_pb2.EmbedderStats:
        return self.call(self.embedder.GetStats, embedder_pb2.GetEmbedderStatsRequest())

    def search_stats(self) -> search_pb2.SearchStats:
        return self.call(self.search.GetStats, search_pb2.GetSearchStatsRequest())

    def close(self) -> None:
        self._channel.close()

    def _error(self, exc: grpc.RpcError) -> CliError:
        code: grpc.StatusCode = exc.code()
        details: str = exc.details() or ""
        if code == grpc.StatusCode.UNAVAILABLE and "unavailable:" not in details:
            hint = unreachable_hint(details, self._settings)
            return CliError(f"cannot reach vrs at {self.address}: {details}{hint}")
        if code == grpc.StatusCode.UNIMPLEMENTED:
            return CliError(f"the server at {self.address} does not run that service")
        return CliError(f"{code.name.lower().replace('_', ' ')}: {details}")
