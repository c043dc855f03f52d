"""The server side of callers and roles: every call is admitted (or refused) before any
servicer sees it, and every write is audited."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, NoReturn, cast

import grpc

from vrs.auth.audit import WriteAudit, is_write
from vrs.auth.credentials import MalformedAuthorization, bearer_token, certificate_identity
from vrs.auth.registry import CallerRegistry
from vrs.auth.roles import ROLES, Access, Role, required_access
from vrs.auth.tokens import Caller, CallerTable
from vrs.rpc.handler_types import Behavior, Context, Handler
from vrs.rpc.wrapping import WrapOncePerMethod
from vrs.settings import AuthSettings, ServerSettings

log = logging.getLogger(__name__)

# With auth off (a loopback demo) every caller is this one, and may do anything.
ANONYMOUS = Caller("anonymous", frozenset(ROLES))
MISSING = "missing bearer token or client certificate"
UNKNOWN_TOKEN = "unknown or revoked token"


class AuthInterceptor(WrapOncePerMethod):
    """Admits a call only for a caller holding the role its RPC needs (health stays open)
    and audits every write, refused ones included; `callers` None: auth off."""

    def __init__(self, callers: CallerRegistry | None) -> None:
        super().__init__()
        self._callers = callers

    def wrap(self, method: str, handler: Handler) -> Handler:
        access = required_access(method)
        if access is Access.OPEN:
            return handler
        if self._callers is None and not is_write(method):
            # Auth off: every caller is ANONYMOUS, who holds every role, and only writes are
            # audited; admitting this call would change nothing.
            return handler
        return _Guard(self, method, access).wrap(handler)

    async def identify(self, context: Context) -> Caller:
        """Who makes the call; UNAUTHENTICATED (the call aborted, this raises) if nobody."""
        if self._callers is None:
            return ANONYMOUS
        try:
            table = self._callers.fresh()
            if table is None:
                table = await self._callers.table()
            found = _identify(table, context)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Fail closed: a bug in checking credentials must not let the call through.
            log.exception("cannot check the caller's credentials")
            await context.abort(grpc.StatusCode.INTERNAL, "cannot check the caller's credentials")
        if isinstance(found, _Refusal):
            await _refuse(context, grpc.StatusCode.UNAUTHENTICATED, found.message)
        return found

    @staticmethod
    async def authorize(
        method: str, access: Role | Access, caller: Caller, context: Context
    ) -> None:
        """PERMISSION_DENIED (the call aborted, this raises) for a caller without the role."""
        if isinstance(access, str) and access not in caller.roles:
            await _refuse(
                context,
                grpc.StatusCode.PERMISSION_DENIED,
                f"caller {caller.name!r} lacks role {access!r} for {method}",
                caller.name,
            )


@dataclass(frozen=True)
class _Refusal:
    """Why a call is UNAUTHENTICATED (what is missing, never what was sent)."""

    message: str


def _identify(table: CallerTable, context: Context) -> Caller | _Refusal:
    # Not a coroutine: admitting a call is checks only (a refusal is aborted by the caller).
    try:
        token = bearer_token(context.invocation_metadata())
    except MalformedAuthorization as exc:
        return _Refusal(str(exc))
    if token is not None:
        return table.by_token(token) or _Refusal(UNKNOWN_TOKEN)
    identity = certificate_identity(context.auth_context())
    if identity is None:
        return _Refusal(MISSING)
    mapped = table.by_certificate(identity.subject, identity.common_name)
    # A verified certificate the tokens file does not map: the CA vouches for who it
    # is, and nothing gives it a role.
    return mapped or Caller(identity.display_name, frozenset())


class _Guard:
    """Wraps one method's handler: admission first, then the servicer, audited if a write."""

    def __init__(self, interceptor: AuthInterceptor, method: str, access: Role | Access) -> None:
        self._interceptor = interceptor
        self._method = method
        self._access = access
        self._write = is_write(method)

    def wrap(self, handler: Handler) -> Handler:
        serializers = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._unary_response(cast(Behavior, handler.unary_unary), streaming_request=False),
                **serializers,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                self._unary_response(cast(Behavior, handler.stream_unary), streaming_request=True),
                **serializers,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._stream_response(cast(Behavior, handler.unary_stream)), **serializers
            )
        if handler.stream_stream:
            return grpc.stream_stream_rpc_method_handler(
                self._stream_response(cast(Behavior, handler.stream_stream)), **serializers
            )
        return handler

    async def _admitted(
        self, request: Any, context: Context, streaming_request: bool
    ) -> tuple[Any, WriteAudit | None]:
        """(the request to pass on, the call's audit record if it is a write)."""
        audit = WriteAudit(self._method) if self._write else None
        if audit is not None and not streaming_request:
            audit.count(request)
        try:
            caller = await self._interceptor.identify(context)
            if audit is not None:
                audit.caller = caller.name
            await self._interceptor.authorize(self._method, self._access, caller, context)
        except BaseException as exc:
            if audit is not None:
                audit.record(_outcome(context, exc))
            raise
        if audit is None:
            return request, None
        return (audit.counting(request) if streaming_request else request), audit

    def _unary_response(self, behavior: Behavior, *, streaming_request: bool) -> Behavior:
        async def call(request: Any, context: Context) -> Any:
            request, audit = await self._admitted(request, context, streaming_request)
            if audit is None:
                return await behavior(request, context)
            code = grpc.StatusCode.OK
            try:
                return await behavior(request, context)
            except BaseException as exc:
                code = _outcome(context, exc)
                raise
            finally:
                audit.record(code)

        return call

    def _stream_response(self, behavior: Behavior) -> Behavior:
        # No write streams responses; these are reflection's (and any future reader's).
        async def call(request: Any, context: Context) -> AsyncIterator[Any]:
            request, _ = await self._admitted(request, context, streaming_request=False)
            result = behavior(request, context)
            if inspect.isawaitable(result):  # the reader/writer form writes by itself
                await result
            elif hasattr(result, "__aiter__"):
                async for item in result:
                    yield item
            else:
                for item in result:
                    yield item

        return call


async def _refuse(
    context: Context, code: grpc.StatusCode, message: str, caller: str = ""
) -> NoReturn:
    # The message names what is missing, never what was sent: it is safe to log as is.
    log.info("call refused: %s", message, extra={"code": code.name, "caller": caller})
    await context.abort(code, message)


def _outcome(context: Context, error: BaseException) -> grpc.StatusCode:
    """The status a call that raised `error` ends with."""
    if isinstance(error, asyncio.CancelledError):
        return grpc.StatusCode.CANCELLED
    code = context.code()
    if isinstance(error, grpc.aio.AbortError) and isinstance(code, grpc.StatusCode):
        return code
    # gRPC answers UNKNOWN for an exception no interceptor turned into a status.
    return grpc.StatusCode.UNKNOWN


def auth_interceptor(server: ServerSettings, auth: AuthSettings) -> AuthInterceptor:
    """The interceptor a server with these settings needs. Auth is on with a tokens file or a
    client CA (mTLS); off, every caller is anonymous (loopback demo) and writes are still
    audited. An unreadable or invalid tokens file refuses the start (ConfigurationError)."""
    if auth.tokens_file is None and server.tls_client_ca_file is None:
        log.info("auth off: no VRS_AUTH_TOKENS_FILE nor VRS_GRPC_TLS_CLIENT_CA_FILE")
        return AuthInterceptor(None)
    if auth.tokens_file is None:
        log.warning(
            "client certificates authenticate callers, but without VRS_AUTH_TOKENS_FILE no "
            "subject is mapped to a role: every RPC but health is refused"
        )
    return AuthInterceptor(CallerRegistry.load(auth.tokens_file, auth.reload_s))
