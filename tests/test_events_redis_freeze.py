"""Redis frozen (SIGSTOP) while the consumer applies a burst of price updates: when it comes
back, the batch the freeze cut off is read back at once and the backlog drains, with no event
dead-lettered and no attempt spent, and the store ends as applying every update in order."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from services.embedder.embedding.embedder import ImageEmbedder
from services.embedder.runtimes.engine import InferenceEngine
from tests.support.events_pipeline import (
    STREAM,
    EventsPipeline,
    events_pipeline,
    eventually,
    group_settled,
    sync_redis,
)
from tests.support.factories import make_embedder
from tests.support.redis_server import RedisServer
from vrs.catalog.products import Product, ProductPatch
from vrs.events.publish import publish, update_event

PRODUCTS = 10
UPDATES = 200


@pytest_asyncio.fixture
async def embedder(effnet_engine: InferenceEngine) -> AsyncIterator[ImageEmbedder]:
    e = make_embedder(effnet_engine)
    yield e
    await e.close()


@pytest_asyncio.fixture
async def pipeline(
    embedder: ImageEmbedder, redis_server: RedisServer, tmp_path: Path
) -> AsyncIterator[EventsPipeline]:
    async with events_pipeline(embedder, redis_server.url, tmp_path / "edge") as pipe:
        yield pipe


async def test_a_freeze_mid_burst_drains_without_dead_letters(
    pipeline: EventsPipeline, redis_server: RedisServer
) -> None:
    for i in range(PRODUCTS):
        await pipeline.seed(Product(f"p{i}", category="shirt", price=1.0), seed=i)
    client = sync_redis(pipeline.redis_url)
    last: dict[str, float] = {}
    for n in range(UPDATES):
        pid, price = f"p{n % PRODUCTS}", float(n + 2)
        publish(client, STREAM, update_event(ProductPatch(pid, price=price)))
        last[pid] = price
    # XAUTOCLAIM cannot rescue the cut-off batch within the test: the consumer must.
    consumer = await pipeline.consumer(
        "c", client_timeout_s=0.5, claim_idle_ms=600_000, batch_size=8
    )
    await eventually(lambda: consumer.counters.processed >= 20, "some updates applied")
    with redis_server.frozen():
        await asyncio.sleep(3)
    thawed = time.monotonic()

    await eventually(lambda: consumer.counters.processed == UPDATES, "every update applied")
    drained_s = time.monotonic() - thawed
    assert group_settled(client)
    assert (consumer.counters.retried, consumer.counters.dead_lettered) == (0, 0)
    for pid, price in last.items():
        stored = pipeline.stored(pid)
        assert stored is not None and stored.product.price == price, pid
    assert drained_s < 10, f"drained {drained_s:.1f}s after Redis came back"
