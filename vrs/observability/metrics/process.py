"""The metrics of one process: its registry, its gRPC server's metrics and the /metrics endpoint."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, ProcessCollector

from vrs.listeners.http_server import HttpLimits
from vrs.observability.metrics.grpc_server import GrpcServerMetrics
from vrs.observability.metrics.http import start_metrics_endpoint
from vrs.observability.metrics.listeners import ListenerCollector
from vrs.observability.metrics.registry import register
from vrs.observability.metrics.store import InfoRefresher, StoreMetrics
from vrs.settings import Settings

Closer = Callable[[], Awaitable[None]]

# The store's size gauges are read this often (a typical scrape interval).
STORE_INFO_EVERY_S = 15.0


class ProcessMetrics:
    """One registry per process (never the global default), so servers that share a process
    (tests) keep their numbers apart; every part registers its metrics here."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.grpc = GrpcServerMetrics()
        self.listeners = ListenerCollector()
        register(self.registry, [*self.grpc.collectors(), self.listeners])
        # vrs_process_open_fds against vrs_process_max_fds (the descriptor budget), CPU, memory.
        ProcessCollector(namespace="vrs", registry=self.registry)
        self.port: int | None = None

    async def serve(
        self,
        settings: Settings,
        limits: HttpLimits,
        store: StoreMetrics,
        read_store_info: Callable[[], Awaitable[object]],
    ) -> list[Closer]:
        """Registers the store's metrics and, when VRS_OBS_METRICS_PORT is set, serves /metrics
        and keeps the store's size gauges current; what to close when the server stops.

        ConfigurationError when the port cannot be bound or would be unsafe."""
        register(self.registry, store.collectors())
        if settings.obs.metrics_port is None:
            return []
        endpoint = await start_metrics_endpoint(
            self.registry, settings.obs, settings.server, limits
        )
        self.port = endpoint.port
        self.listeners.watch(endpoint)
        refresher = InfoRefresher(read_store_info, STORE_INFO_EVERY_S)
        refresher.start()
        # Closed in reverse: the refresher stops before the endpoint.
        return [endpoint.stop, refresher.stop]
