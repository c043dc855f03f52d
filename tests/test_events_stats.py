"""The events part of `vrs stats`: the consumer reports a domain status (no protobuf), and the
embedder servicer turns it into the EventsStats message, every field of one reaching the
other."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest

from services.embedder.runtimes.engine import InferenceEngine
from services.embedder.servicer import events_stats_to_proto
from tests.support.events_pipeline import (
    GROUP,
    STREAM,
    EventsPipeline,
    eventually,
    sync_redis,
)
from tests.support.redis_server import RedisServer
from vrs.events.publish import delete_event, publish
from vrs.observability.metrics.events import EventCounters, EventsStatus
from vrs.v1 import embedder_pb2

STATUS = EventsStatus(
    stream="s",
    group="g",
    lag=7,
    pending=3,
    counters=EventCounters(
        processed=11, retried=13, dead_lettered=17, group_recreated=19, consumers_removed=23
    ),
)


@pytest.fixture
def embedder_engine(inception_engine: InferenceEngine) -> InferenceEngine:
    return inception_engine


async def test_consumer_status_holds_the_backlog_and_every_counter(
    pipeline: EventsPipeline,
) -> None:
    client = sync_redis(pipeline.redis_url)
    publish(client, STREAM, delete_event("gone"))
    consumer = await pipeline.consumer("c")
    await eventually(lambda: consumer.counters.processed == 1, "the event is acknowledged")
    await consumer.stop()
    for event in (delete_event("a"), delete_event("b")):
        publish(client, STREAM, event)
    counters = consumer.counters
    counters.retried, counters.dead_lettered = 2, 3
    counters.group_recreated, counters.consumers_removed = 4, 5

    assert await consumer.stats() == EventsStatus(
        stream=STREAM,
        group=GROUP,
        lag=2,
        pending=0,
        counters=EventCounters(
            processed=1, retried=2, dead_lettered=3, group_recreated=4, consumers_removed=5
        ),
    )


async def test_consumer_status_leaves_the_backlog_unknown_while_redis_is_down(
    pipeline: EventsPipeline, redis_server: RedisServer
) -> None:
    consumer = await pipeline.consumer("c")
    await consumer.stop()
    redis_server.stop()

    status = await consumer.stats()
    assert (status.lag, status.pending) == (None, None)
    assert (status.stream, status.counters.processed) == (STREAM, 0), "counters still reported"


def test_events_stats_message_carries_every_field_of_the_status() -> None:
    message = events_stats_to_proto(STATUS)
    assert message.enabled
    for field in fields(EventCounters):
        assert getattr(message, field.name) == getattr(STATUS.counters, field.name), field.name
    assert (message.stream, message.group, message.lag, message.pending) == ("s", "g", 7, 3)
    # A field added to either side without the other fails here.
    names = {field.name for field in embedder_pb2.EventsStats.DESCRIPTOR.fields}
    status_fields = {field.name for field in fields(EventsStatus)} - {"counters"}
    assert names == status_fields | {field.name for field in fields(EventCounters)} | {"enabled"}


def test_an_unknown_backlog_travels_as_zero() -> None:
    unknown = replace(STATUS, lag=None, pending=None)
    message = events_stats_to_proto(unknown)
    assert (message.lag, message.pending) == (0, 0)
