"""A busy embedder (RESOURCE_EXHAUSTED) postpones catalog events without counting attempts, so
a burst of search traffic never dead-letters good events."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from services.embedder.runtimes.engine import InferenceEngine
from tests.support.events_pipeline import (
    STREAM,
    EventsPipeline,
    dead_letters,
    eventually,
    sync_redis,
)
from tests.support.faulty import BusyEmbedder, busy_embedder
from tests.support.images import product_jpeg
from tests.support.redis_server import RedisServer
from vrs.catalog.products import Product
from vrs.events.publish import publish, upsert_event
from vrs.images.source import ImageInput

pytestmark = pytest.mark.slow
MAX_ATTEMPTS = 2
BUSY_CALLS = 5  # more refusals than attempts allowed


@pytest_asyncio.fixture
async def embedder(inception_engine: InferenceEngine) -> AsyncIterator[BusyEmbedder]:
    e = busy_embedder(inception_engine, busy_calls=BUSY_CALLS)
    yield e
    await e.close()


async def test_an_event_refused_by_a_busy_model_is_applied_once_it_has_room(
    pipeline: EventsPipeline, embedder: BusyEmbedder, redis_server: RedisServer
) -> None:
    client = sync_redis(redis_server.url)
    product = Product("busy-1", category="shirt", price=10.0)
    publish(client, STREAM, upsert_event(product, ImageInput(data=product_jpeg(seed=3))))
    consumer = await pipeline.consumer("c1", max_attempts=MAX_ATTEMPTS, retry_backoff_ms=20)

    await eventually(lambda: pipeline.stored("busy-1") is not None, "busy-1 applied", 30)

    assert embedder.busy_calls == 0, "the model refused it more often than attempts allow"
    assert dead_letters(client) == []
    assert consumer.counters.retried == 0
