"""/metrics says whether the process reaches Redis and Qdrant, and how its HTTP listeners hold
up: the series the alert rules read (deploy/prometheus)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from tests.support.http_listener import half_request, listener
from tests.support.qdrant_endpoints import server_store_at
from tests.support.redis_server import RedisServer, free_port
from vrs.errors import Unavailable
from vrs.listeners.http_server import HttpLimits
from vrs.observability.metrics.listeners import ListenerCollector
from vrs.observability.metrics.registry import register
from vrs.redis_access.connection import redis_client
from vrs.redis_access.guard import RedisGuard
from vrs.settings import RedisSettings
from vrs.store.async_store import AsyncStore
from vrs.store.filters import ProductFilter


async def test_redis_up_falls_to_zero_when_redis_stops_and_rises_when_it_is_back(
    tmp_path: Path,
) -> None:
    server = RedisServer(tmp_path)
    server.start()
    settings = RedisSettings(url=server.url, retry_after_s=0)
    guard = RedisGuard(redis_client(settings), settings)
    registry = CollectorRegistry()
    register(registry, guard.health.collectors())
    try:
        assert await guard.call("ping", lambda r: r.ping()) is True
        assert registry.get_sample_value("vrs_redis_up") == 1
        server.stop()
        assert await guard.call("ping", lambda r: r.ping()) is None
        assert registry.get_sample_value("vrs_redis_up") == 0
        assert registry.get_sample_value("vrs_redis_failures_total") == 1
        server.start()
        assert await guard.call("ping", lambda r: r.ping()) is True
        assert registry.get_sample_value("vrs_redis_up") == 1
    finally:
        await guard.close()
        server.stop()


async def test_qdrant_up_falls_to_zero_when_qdrant_cannot_be_reached() -> None:
    store = AsyncStore(server_store_at(free_port(), "toy@deps", 4), timeout_s=5.0)
    registry = CollectorRegistry()
    register(registry, store.metrics.collectors())
    try:
        with pytest.raises(Unavailable):
            await store.count(ProductFilter())
    finally:
        await store.close()
    assert registry.get_sample_value("vrs_qdrant_up") == 0
    assert registry.get_sample_value("vrs_qdrant_failures_total") == 1


async def test_listener_connections_and_refusals_are_exported() -> None:
    collector = ListenerCollector()
    registry = CollectorRegistry()
    registry.register(collector)
    async with listener(HttpLimits(max_connections=2, head_timeout_s=30)) as server:
        collector.watch(server)
        held = [await asyncio.to_thread(half_request, server.port) for _ in range(3)]
        await asyncio.sleep(0.2)
        labels = {"listener": "test listener"}
        assert registry.get_sample_value("vrs_http_connections", labels) == 2
        assert registry.get_sample_value("vrs_http_max_connections", labels) == 2
        refused = {**labels, "reason": "over the connection cap"}
        assert registry.get_sample_value("vrs_http_refused_total", refused) == 1
        for sock in held:
            sock.close()
