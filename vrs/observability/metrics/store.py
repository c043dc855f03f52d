"""The vector store as Prometheus sees it: size, index progress and write latency."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from prometheus_client import Gauge, Histogram
from prometheus_client.registry import Collector

from vrs.observability.metrics.dependencies import DependencyHealth
from vrs.observability.metrics.grpc_server import LATENCY_BUCKETS

log = logging.getLogger(__name__)

WRITE_OPERATIONS = ("upsert", "set_attributes", "delete")


class StoreMetrics:
    """Points and indexed vectors (from the store's info) and write latency by operation."""

    def __init__(self) -> None:
        self.points = Gauge(
            "vrs_store_points", "Points in the collection (last read of its info).", registry=None
        )
        self.indexed_vectors = Gauge(
            "vrs_store_indexed_vectors",
            "Vectors in the HNSW index (last read of the collection's info).",
            registry=None,
        )
        self.write = Histogram(
            "vrs_store_write_seconds",
            "Time of a store write, by operation (upsert, set_attributes, delete).",
            ("operation",),
            buckets=LATENCY_BUCKETS,
            registry=None,
        )
        for operation in WRITE_OPERATIONS:
            self.write.labels(operation)
        self.qdrant = DependencyHealth("qdrant", "Qdrant")

    def collectors(self) -> list[Collector]:
        return [self.points, self.indexed_vectors, self.write, *self.qdrant.collectors()]


class InfoRefresher:
    """Reads the store's info every `interval_s` (on the event loop, through the store's own
    bounded pool and deadline), so the point gauges stay current between `GetStats` calls."""

    def __init__(self, read_info: Callable[[], Awaitable[object]], interval_s: float) -> None:
        self._read_info = read_info
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="store-info")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self._read_info()  # the store sets its gauges from the answer
            except Exception as exc:
                # Qdrant down: the gauges keep their last values, the next round tries again.
                log.debug("store info for metrics failed", extra={"error": type(exc).__name__})
            await asyncio.sleep(self._interval_s)
