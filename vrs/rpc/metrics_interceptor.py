"""Counting and timing every gRPC call a server handles, into GrpcServerMetrics."""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

import grpc
from prometheus_client import Counter

from vrs.observability.metrics.grpc_server import GrpcServerMetrics
from vrs.rpc.handler_types import Context, Handler, UnaryBehavior
from vrs.rpc.wrapping import WrapOncePerMethod


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
                self._wrap(service, name, cast(UnaryBehavior, handler.unary_unary)),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                self._wrap(service, name, cast(UnaryBehavior, handler.stream_unary)),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    def _wrap(self, service: str, method: str, behavior: UnaryBehavior) -> UnaryBehavior:
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
