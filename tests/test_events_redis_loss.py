"""When Redis loses its data (FLUSHALL, a restart without persistence), the consumer creates
its group again and goes on applying events, without a restart of its own."""

from __future__ import annotations

import logging

import pytest

from services.embedder.events.consumer import EventsConsumer
from tests.support.events_pipeline import (
    STREAM,
    EventsPipeline,
    eventually,
    sync_redis,
)
from tests.support.images import product_jpeg
from tests.support.redis_server import RedisServer
from vrs.catalog.products import Product
from vrs.events.publish import publish, upsert_event
from vrs.images.source import ImageInput

pytestmark = pytest.mark.slow


def publish_upsert(url: str, product_id: str, seed: int) -> None:
    product = Product(product_id, category="shoes", price=float(seed))
    image = ImageInput(data=product_jpeg("shoes", seed))
    publish(sync_redis(url), STREAM, upsert_event(product, image))


async def applied(pipeline: EventsPipeline, product_id: str, timeout_s: float = 10.0) -> None:
    await eventually(
        lambda: pipeline.stored(product_id) is not None, f"{product_id} applied", timeout_s
    )


async def running_consumer(pipeline: EventsPipeline, redis_url: str) -> EventsConsumer:
    consumer = await pipeline.consumer("survivor")
    publish_upsert(redis_url, "before", 1)
    await applied(pipeline, "before")
    return consumer


async def test_consumer_recreates_its_group_after_flushall(
    pipeline: EventsPipeline, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    consumer = await running_consumer(pipeline, redis_server.url)

    with caplog.at_level(logging.WARNING, logger="services.embedder.events.consumer"):
        sync_redis(redis_server.url).flushall()
        publish_upsert(redis_server.url, "after", 2)
        await applied(pipeline, "after")

    assert consumer.counters.group_recreated >= 1
    assert "consumer group missing: recreated" in caplog.messages


async def test_stats_say_the_group_was_recreated(
    pipeline: EventsPipeline, redis_server: RedisServer
) -> None:
    consumer = await running_consumer(pipeline, redis_server.url)
    sync_redis(redis_server.url).flushall()
    publish_upsert(redis_server.url, "after", 2)
    await applied(pipeline, "after")

    assert (await consumer.stats()).counters.group_recreated >= 1


async def test_consumer_recovers_after_redis_restarts_without_persistence(
    pipeline: EventsPipeline, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    consumer = await running_consumer(pipeline, redis_server.url)

    with caplog.at_level(logging.WARNING, logger="services.embedder.events.consumer"):
        redis_server.restart()  # no AOF, no snapshot: the stream and the group are gone
        publish_upsert(redis_server.url, "after", 2)
        # The consumer first backs off from the dead connection (0.5 s, then 1 s...).
        await applied(pipeline, "after", timeout_s=30)

    assert consumer.counters.group_recreated >= 1
    assert "consumer group missing: recreated" in caplog.messages
