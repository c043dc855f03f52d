"""The metrics of one process: its registry, its gRPC server's metrics and the /metrics endpoint."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry

from vrs.observability.metrics.grpc_server import GrpcServerMetrics
from vrs.observability.metrics.http import MetricsEndpoint
from vrs.observability.metrics.registry import register
from vrs.observability.metrics.store import InfoRefresher, StoreMetrics
from vrs.settings import ObservabilitySettings

Closer = Callable[[], Awaitable[None]]

# The store's size gauges are read this often (a typical scrape interval).
STORE_INFO_EVERY_S = 15.0


class ProcessMetrics:
    """One registry per process (never the global default), so servers that share a process
    (tests) keep their numbers apart; every part registers its metrics here."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.grpc = GrpcServerMetrics()
        register(self.registry, self.grpc.collectors())
        self.port: int | None = None

    def serve(
        self,
        settings: ObservabilitySettings,
        store: StoreMetrics,
        read_store_info: Callable[[], Awaitable[object]],
    ) -> list[Closer]:
        """Registers the store's metrics and, when VRS_OBS_METRICS_PORT is set, serves /metrics
        and keeps the store's size gauges current; what to close when the server stops.

        ConfigurationError when the port cannot be bound."""
        register(self.registry, store.collectors())
        if settings.metrics_port is None:
            return []
        endpoint = MetricsEndpoint.start(
            self.registry, settings.metrics_host, settings.metrics_port
        )
        self.port = endpoint.port
        refresher = InfoRefresher(read_store_info, STORE_INFO_EVERY_S)
        refresher.start()

        async def stop_endpoint() -> None:
            await asyncio.to_thread(endpoint.stop)

        # Closed in reverse: the refresher stops before the endpoint.
        return [stop_endpoint, refresher.stop]
