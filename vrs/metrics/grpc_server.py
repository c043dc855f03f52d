"""Request count, latency and in-flight requests of a gRPC server, by service, method and code."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

import grpc
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.registry import Collector

from vrs.grpc_wrapping import WrapOncePerMethod

if TYPE_CHECKING:
    Context = grpc.aio.ServicerContext[Any, Any]
    Handler = grpc.RpcMethodHandler[Any, Any]
else:
    Context = grpc.aio.ServicerContext
    Handler = grpc.RpcMethodHandler
Behavior = Callable[[Any, "Context"], Awaitable[Any]]

# Seconds; from a cached answer (~1 ms) to a bulk upsert stream (minutes).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class GrpcServerMetrics:
    """The server-side RPC metrics of one process."""

    def __init__(self) -> None:
        self.requests = Counter(
            "vrs_grpc_server_requests_total",
            "RPCs finished, by service, method and status code.",
            ("service", "method", "code"),
            registry=None,
        )
        self.duration = Histogram(
            "vrs_grpc_server_request_duration_seconds",
            "Time from a call's arrival to its status, by service and method.",
            ("service", "method"),
            buckets=LATENCY_BUCKETS,
            registry=None,
        )
        self.in_flight = Gauge(
            "vrs_grpc_server_in_flight_requests",
            "Calls being handled now, by service and method.",
            ("service", "method"),
            registry=None,
        )

    def collectors(self) -> list[Collector]:
        return [self.requests, self.duration, self.in_flight]


class MetricsInterceptor(WrapOncePerMethod):
    """Counts and times every call with a unary response, refused ones included (it runs
    outermost, before authentication). Streaming responses (health Watch, reflection) pass
    through uncounted."""

    def __init__(self, metrics: GrpcServerMetrics) -> None:
        super().__init__()
        self._metrics = metrics

    def wrap(self, method: str, handler: Handler) -> Handler:
        service, _, name = method.lstrip("/").rpartition("/")
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap(service, name, cast(Behavior, handler.unary_unary)),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                self._wrap(service, name, cast(Behavior, handler.stream_unary)),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    def _wrap(self, service: str, method: str, behavior: Behavior) -> Behavior:
        metrics = self._metrics
        in_flight = metrics.in_flight.labels(service, method)
        duration = metrics.duration.labels(service, method)
        # This method's counter by status code, each looked up once: labels() builds a key and
        # takes the metric's lock. Filled as codes occur, so no series appears before its call.
        requests: dict[grpc.StatusCode, Counter] = {}

        def count(code: grpc.StatusCode) -> None:
            child = requests.get(code)
            if child is None:
                child = requests[code] = metrics.requests.labels(service, method, code.name)
            child.inc()

        async def observed(request: Any, context: Context) -> Any:
            started = time.perf_counter()
            code = grpc.StatusCode.UNKNOWN
            in_flight.inc()
            try:
                response = await behavior(request, context)
                code = context.code() or grpc.StatusCode.OK
                return response
            except grpc.aio.AbortError:
                code = context.code() or grpc.StatusCode.UNKNOWN
                raise
            except asyncio.CancelledError:
                code = grpc.StatusCode.CANCELLED
                raise
            finally:
                in_flight.dec()
                duration.observe(time.perf_counter() - started)
                count(code)

        return observed
