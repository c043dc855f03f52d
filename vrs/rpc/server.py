"""gRPC server bootstrap shared by every vrs service: TLS, health, reflection, error mapping and
access logs, graceful shutdown."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio  # type: ignore[attr-defined]
from grpc_reflection.v1alpha import reflection

from vrs.errors import ConfigurationError, VrsError
from vrs.lifecycle import Closer, close_all, wait_for_stop_signal
from vrs.listeners.descriptors import MAX_CONNECTIONS_PER_LISTENER
from vrs.listeners.http_server import check_port_free
from vrs.observability import tracing
from vrs.observability.metrics.grpc_server import GrpcServerMetrics
from vrs.rpc import keepalive
from vrs.rpc.auth_interceptor import auth_interceptor
from vrs.rpc.handler_types import Context, Handler, UnaryBehavior
from vrs.rpc.metrics_interceptor import MetricsInterceptor
from vrs.rpc.status import status_code
from vrs.rpc.wrapping import WrapOncePerMethod
from vrs.security.bind_policy import check_bind
from vrs.security.redact import redact_text
from vrs.settings import AuthSettings, ConnectionSettings, ServerSettings
from vrs.tls.server import ServerTls

log = logging.getLogger(__name__)

GRPC_WHERE = "gRPC: VRS_GRPC_HOST, VRS_GRPC_PORT"


@dataclass(frozen=True)
class ServiceBinding:
    """One gRPC service to serve: its full name and how to add its servicer."""

    name: str
    register: Callable[[grpc.aio.Server], None]


@dataclass
class GrpcServer:
    """A vrs gRPC server: its port, health, TLS files being watched, and what to close."""

    server: grpc.aio.Server
    port: int
    health: health_aio.HealthServicer
    services: Sequence[str]
    grace_s: float
    closers: list[Closer] = field(default_factory=list)
    tls: ServerTls | None = None
    # Port of the process's /metrics endpoint (None: metrics are not served).
    metrics_port: int | None = None
    # URL of the process's web gateway (None: no gateway in this process).
    web_url: str | None = None
    _stopped: bool = False
    _tls_watch: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.server.start()
        if self.tls is not None:
            self._tls_watch = asyncio.create_task(self.tls.watch(), name="tls-file-watch")
        for name in (*self.services, ""):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info(
            "serving",
            extra={
                "port": self.port,
                "services": list(self.services),
                "tls": "off" if self.tls is None else "mutual" if self.tls.mutual else "on",
            },
        )

    async def stop(self, grace_s: float | None = None) -> None:
        """NOT_SERVING first (load balancers stop sending), drain in-flight calls, then close
        what the services hold (store, model, connections)."""
        if self._stopped:
            return
        self._stopped = True
        if self._tls_watch is not None:
            self._tls_watch.cancel()
        await self.health.enter_graceful_shutdown()
        await self.server.stop(self.grace_s if grace_s is None else grace_s)
        await close_all(self.closers)
        log.info("stopped", extra={"port": self.port})

    async def serve_until_signalled(self) -> None:
        """Serve (the server is started) until SIGTERM or SIGINT, then shut down gracefully."""
        await wait_for_stop_signal()
        log.info("shutdown signal received: draining", extra={"grace_s": self.grace_s})
        await self.stop()


def create_grpc_server(
    settings: ServerSettings,
    bindings: Sequence[ServiceBinding],
    closers: Sequence[Closer] = (),
    *,
    auth: AuthSettings | None = None,
    metrics: GrpcServerMetrics | None = None,
    connections: ConnectionSettings | None = None,
    max_connections: int = MAX_CONNECTIONS_PER_LISTENER,
) -> GrpcServer:
    """ConfigurationError for a non-loopback address without TLS and auth (unless
    VRS_GRPC_INSECURE) and for unusable TLS files, before anything listens."""
    check_bind(settings, auth)
    tls = ServerTls.from_settings(settings)
    max_bytes = settings.max_message_mb * 1024 * 1024
    # Callers are admitted before anything else runs; refused calls never reach a servicer.
    admission = auth_interceptor(settings, auth or AuthSettings.model_construct())
    server = grpc.aio.server(
        interceptors=[
            # Outermost: every call is counted and timed, refused ones included.
            MetricsInterceptor(metrics or GrpcServerMetrics()),
            # The call's trace span (when tracing is on), admission included.
            *tracing.aio_server_interceptors(),
            admission,
            DomainErrorInterceptor(),
        ],
        options=[
            ("grpc.max_receive_message_length", max_bytes),
            ("grpc.max_send_message_length", max_bytes),
            ("grpc.so_reuseport", 0),
            *keepalive.server_options(connections or ConnectionSettings(), max_connections),
        ],
    )
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    names = [b.name for b in bindings]
    for binding in bindings:
        binding.register(server)
    if settings.reflection:
        reflection.enable_server_reflection(
            [
                *names,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ],
            server,
        )
    host = settings.host.strip("[]")
    # gRPC wants IPv6 literals in brackets ("[::1]:50051"); the setting may come without.
    address = f"[{host}]:{settings.port}" if ":" in host else f"{host}:{settings.port}"
    # Said here, in one line naming the address: gRPC's own bind failure is a RuntimeError
    # and a raw C-core line on stderr.
    check_port_free(settings.host, settings.port, GRPC_WHERE)
    try:
        if tls is None:
            port = server.add_insecure_port(address)
        else:
            port = server.add_secure_port(address, tls.credentials())
    except RuntimeError:
        port = 0
    if port == 0:
        raise ConfigurationError(f"{address} ({GRPC_WHERE}) cannot be bound")
    return GrpcServer(
        server, port, health, names, settings.shutdown_grace_s, list(closers), tls=tls
    )


class DomainErrorInterceptor(WrapOncePerMethod):
    """Turns domain errors into status codes with their message, and logs every call."""

    def wrap(self, method: str, handler: Handler) -> Handler:
        if method.startswith("/grpc."):
            return handler
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                _wrap_unary(method, cast(UnaryBehavior, handler.unary_unary)),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                _wrap_unary(method, cast(UnaryBehavior, handler.stream_unary)),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler


def _wrap_unary(method: str, behavior: UnaryBehavior) -> UnaryBehavior:
    async def wrapped(request: Any, context: Context) -> Any:
        started = time.monotonic()
        code = grpc.StatusCode.OK
        try:
            return await behavior(request, context)
        except VrsError as exc:
            code = status_code(exc)
            await context.abort(code, redact_text(str(exc)))
        except asyncio.CancelledError:
            code = grpc.StatusCode.CANCELLED
            raise
        except Exception as exc:
            if isinstance(exc, grpc.aio.AbortError):
                code = context.code() or grpc.StatusCode.UNKNOWN
                raise
            code = grpc.StatusCode.INTERNAL
            log.exception("unhandled error", extra={"method": method})
            await context.abort(code, f"internal error: {type(exc).__name__}")
        finally:
            # Its fields are built only when the line is written: above INFO, nothing. Written
            # on the loop's next turn, once the response is with gRPC: making, redacting and
            # writing the line took 75-110 us of a ~1.2 ms cache hit (benchmarks/cache_hit.py).
            # call_soon keeps this context (the active trace's ids) for it.
            if log.isEnabledFor(logging.INFO):
                asyncio.get_running_loop().call_soon(
                    _access_line, method, code.name, round(1000 * (time.monotonic() - started), 2)
                )

    return wrapped


def _access_line(method: str, code: str, ms: float) -> None:
    """A call's access log line."""
    log.info("rpc", extra={"method": method, "code": code, "ms": ms})
