"""Poison catalog events fail alone: whatever one raises is an attempt of that event only,
it reaches the dead-letter stream exactly once, and the good events of its batch apply."""

from __future__ import annotations

import asyncio
import json

import pytest

from services.embedder.events.dead_letters import DeadLetters
from tests.support.events_pipeline import (
    DEAD,
    GROUP,
    STREAM,
    EventsPipeline,
    dead_letters,
    eventually,
    group_settled,
    publish_raw,
    sync_redis,
)
from tests.support.images import product_jpeg
from tests.support.redis_server import RedisServer, free_port
from vrs.catalog.products import Product, ProductPatch
from vrs.errors import InvalidImage
from vrs.events.publish import delete_event, publish, update_event, upsert_event
from vrs.events.schema import SCHEMA
from vrs.images.source import ImageInput
from vrs.redis_access.connection import redis_client
from vrs.settings import ImageSettings, RedisSettings

pytestmark = pytest.mark.slow

# Nothing listens here: fetching from it fails at once (connection refused).
CLOSED_PORT = free_port()


@pytest.fixture
def image_settings() -> ImageSettings:
    return ImageSettings(http_allowed_hosts=["127.0.0.1", f"127.0.0.1:{CLOSED_PORT}"])


def event_fields(event: object) -> dict[bytes, bytes]:
    return {b"schema": SCHEMA.encode(), b"v": b"1", b"event": json.dumps(event).encode()}


def upsert_from(uri: str, product_id: str) -> dict[bytes, bytes]:
    return event_fields({"kind": "UPSERT", "product_id": product_id, "image": {"uri": uri}})


POISON: dict[str, dict[bytes, bytes]] = {
    "event not UTF-8": {b"schema": SCHEMA.encode(), b"v": b"1", b"event": b"\xff\xfe{\x80"},
    "schema not UTF-8": {b"schema": b"vrs.\xc3\x28", b"v": b"1", b"event": b"{}"},
    "malformed image URI": upsert_from("http://[::1", "bad-uri"),
    "image host unreachable": upsert_from(f"http://127.0.0.1:{CLOSED_PORT}/x.jpg", "no-host"),
    "nested a million deep": {b"schema": SCHEMA.encode(), b"v": b"1", b"event": b"[" * 100_000},
}


async def test_poison_events_are_dead_lettered_once_while_good_events_of_their_batch_apply(
    pipeline: EventsPipeline,
) -> None:
    await pipeline.seed(Product("priced", category="shirt", price=50.0))
    await pipeline.seed(Product("doomed", category="bag", price=9.0), seed=1)
    client = sync_redis(pipeline.redis_url)
    client.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    poison_ids = set()
    for fields in POISON.values():
        poison_ids.add(publish_raw(client, fields))
        # Good events between the poison ones, all in one batch.
        publish(client, STREAM, update_event(ProductPatch("priced", price=len(poison_ids))))
    fresh = Product("fresh", category="hat", price=12.0)
    publish(client, STREAM, upsert_event(fresh, ImageInput(data=product_jpeg("hat", 5))))
    publish(client, STREAM, delete_event("doomed"))

    consumer = await pipeline.consumer("only", batch_size=32)

    def good_applied() -> bool:
        priced, added = pipeline.stored("priced"), pipeline.stored("fresh")
        gone = pipeline.stored("doomed") is None
        return bool(priced and priced.product.price == len(POISON) and added and gone)

    await eventually(good_applied, "the good events of the poisoned batch applied")
    await eventually(lambda: group_settled(client), "every poison event dead-lettered")
    await asyncio.sleep(0.5)  # a duplicate would land now, from a late retry or claim
    dead = dead_letters(client)
    assert sorted(f[b"entry_id"].decode() for f in dead) == sorted(poison_ids), "once each"
    assert all(int(f[b"attempts"]) == 3 for f in dead)
    assert consumer.counters.dead_lettered == len(POISON)


async def test_a_dead_letter_keeps_the_original_fields_byte_for_byte(
    pipeline: EventsPipeline,
) -> None:
    client = sync_redis(pipeline.redis_url)
    client.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    original = {**POISON["event not UTF-8"], b"\xfftrace": b"\x00\xff"}
    entry_id = publish_raw(client, original)
    await pipeline.consumer("only")

    await eventually(lambda: client.xlen(DEAD) == 1, "the poison entry dead-lettered")
    [letter] = dead_letters(client)
    assert {k: letter[k] for k in original} == original
    assert letter[b"entry_id"].decode() == entry_id
    assert letter[b"error_type"] == b"MalformedEvent"
    assert b"field 'event' is not UTF-8 text" in letter[b"error"]


async def test_an_unexpected_error_applying_one_event_fails_that_event_alone(
    pipeline: EventsPipeline,
) -> None:
    await pipeline.seed(Product("healthy", category="shirt", price=5.0))
    client = sync_redis(pipeline.redis_url)
    client.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    # State the applier keeps per product, garbled (by hand, a bug, a bad restore): reading it
    # raises a JSON error, which nothing in the events code expects.
    client.set("test:event-orphans:garbled", b"{not json")
    bad = publish(client, STREAM, update_event(ProductPatch("garbled", price=1.0)))
    publish(client, STREAM, update_event(ProductPatch("healthy", price=6.0)))
    await pipeline.consumer("only")

    def healthy_updated() -> bool:
        stored = pipeline.stored("healthy")
        return stored is not None and stored.product.price == 6.0

    await eventually(healthy_updated, "the other event of the batch applied")
    await eventually(lambda: client.xlen(DEAD) == 1, "the failing event dead-lettered")
    [letter] = dead_letters(client)
    assert letter[b"entry_id"].decode() == bad
    assert letter[b"error_type"] == b"JSONDecodeError"
    assert b"not json" not in letter[b"error"], "an unexpected error's text is not echoed"


async def test_two_consumers_failing_an_entry_at_once_dead_letter_it_once(
    redis_server: RedisServer,
) -> None:
    client = sync_redis(redis_server.url)
    client.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    entry_id = publish_raw(client, POISON["event not UTF-8"])
    client.xreadgroup(GROUP, "a", {STREAM: ">"})
    failures = "test:event-failures"
    client.hset(failures, entry_id, 2)  # two attempts behind it: the next is the last

    async def fail_once() -> bool:
        async_client = redis_client(RedisSettings(url=redis_server.url), timeout_s=5)
        try:
            letters = DeadLetters(async_client, STREAM, GROUP, DEAD, failures, max_attempts=3)
            attempt = await letters.failed(entry_id, {}, InvalidImage("no"))
            return attempt.dead_lettered
        finally:
            await async_client.aclose()

    outcomes = await asyncio.gather(*(fail_once() for _ in range(8)))
    assert outcomes.count(True) == 1
    assert client.xlen(DEAD) == 1
    assert not client.xpending(STREAM, GROUP)["pending"]
