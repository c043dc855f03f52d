"""The catalog events consumer's counters reach /metrics: the very counters `vrs stats` shows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio

from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.events_pipeline import (
    DEAD,
    GROUP,
    STREAM,
    eventually,
    publish_raw,
    sync_redis,
)
from tests.support.metrics_scrape import METRICS_ON, scrape
from tests.support.redis_server import RedisServer
from tests.support.servers import RunningEmbedder, embedder_server
from vrs.events.publish import delete_event, publish
from vrs.v1 import embedder_pb2

EVENTS: dict[str, Any] = {
    "enabled": True,
    "stream": STREAM,
    "group": GROUP,
    "dead_letter_stream": DEAD,
    "block_ms": 100,
    "max_attempts": 3,
    "retry_backoff_ms": 50,
}


@pytest_asyncio.fixture
async def svc(
    tmp_path: Path, effnet: ImageEmbedder, redis_server: RedisServer
) -> AsyncIterator[RunningEmbedder]:
    redis = {"url": redis_server.url}
    async with embedder_server(
        tmp_path, effnet, events=EVENTS, redis=redis, obs=METRICS_ON
    ) as running:
        yield running


async def metric(svc: RunningEmbedder, name: str) -> float:
    assert svc.server.metrics_port is not None, "metrics are on"
    return (await scrape(svc.server.metrics_port)).value(name)


async def test_processed_events_are_counted(
    svc: RunningEmbedder, redis_server: RedisServer
) -> None:
    client = sync_redis(redis_server.url)
    for product_id in ("a", "b"):
        publish(client, STREAM, delete_event(product_id))

    async def processed_two() -> bool:
        return await metric(svc, "vrs_events_processed_total") == 2

    await eventually(processed_two, "both events are counted as processed")


async def test_a_poison_event_counts_its_retries_and_its_dead_letter(
    svc: RunningEmbedder, redis_server: RedisServer
) -> None:
    publish_raw(sync_redis(redis_server.url), {"schema": "nonsense"})

    async def dead_lettered() -> bool:
        return await metric(svc, "vrs_events_dead_lettered_total") == 1

    await eventually(dead_lettered, "the poison event is dead-lettered")
    assert await metric(svc, "vrs_events_retried_total") == EVENTS["max_attempts"] - 1
    assert await metric(svc, "vrs_events_processed_total") == 0


async def test_get_stats_and_the_scrape_agree_on_the_events(
    svc: RunningEmbedder, redis_server: RedisServer
) -> None:
    publish(sync_redis(redis_server.url), STREAM, delete_event("gone"))

    async def processed() -> bool:
        return await metric(svc, "vrs_events_processed_total") == 1

    await eventually(processed, "the event is processed")
    stats = (await svc.stub.GetStats(embedder_pb2.GetEmbedderStatsRequest())).events
    assert svc.server.metrics_port is not None
    after = await scrape(svc.server.metrics_port)
    assert stats.processed == after.value("vrs_events_processed_total") == 1
    assert stats.lag == after.value("vrs_events_lag") == 0
    assert stats.pending == after.value("vrs_events_pending") == 0
    assert after.has("vrs_events_group_recreated_total")
    assert after.has("vrs_events_consumers_removed_total")
