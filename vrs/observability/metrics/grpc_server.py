"""Request count, latency and in-flight requests of a gRPC server, by service, method and code."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.registry import Collector

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
