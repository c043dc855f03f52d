"""Per-product apply locks: kept alive while their holder works, waited for within a bound,
taken back by their own holder after a failed release, and a lock lost mid-round aborts that
product's write instead of interleaving; lock contention never spends an event's attempts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from services.embedder.events.applier import Applied, PendingChange
from services.embedder.events.locks import LockBusy, LockLost, ProductLocks
from tests.support.events_pipeline import (
    KEY_PREFIX,
    STREAM,
    EventsPipeline,
    eventually,
    sync_redis,
)
from tests.support.image_host import HeldImageHost
from tests.support.images import product_jpeg
from tests.support.redis_server import RedisServer
from vrs.catalog.products import Product, ProductPatch
from vrs.events.publish import publish, update_event
from vrs.events.schema import Update, Upsert
from vrs.images.source import ImageInput, sha256_hex
from vrs.redis_access.connection import redis_client
from vrs.settings import ImageSettings, RedisSettings

pytestmark = pytest.mark.slow


@pytest_asyncio.fixture
async def client(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    c = redis_client(RedisSettings(url=redis_server.url), timeout_s=5)
    yield c
    await c.aclose()


@pytest_asyncio.fixture
async def image_host() -> AsyncIterator[HeldImageHost]:
    host = HeldImageHost(product_jpeg("shirt", 99))
    await host.start()
    yield host
    await host.close()


@pytest.fixture
def image_settings(image_host: HeldImageHost) -> ImageSettings:
    return ImageSettings(http_allowed_hosts=image_host.allowed_hosts)


async def test_a_lock_outlives_its_ttl_while_its_holder_works(client: aioredis.Redis) -> None:
    locks = ProductLocks(client, KEY_PREFIX, ttl_ms=300)
    taken_by_contender = []
    async with locks.hold(["p1"]) as held:
        for _ in range(20):  # 1 s of work: more than three TTLs
            taken_by_contender.append(
                await client.set(locks.key("p1"), "contender", nx=True, px=300)
            )
            await asyncio.sleep(0.05)
        assert held.holds("p1")
    assert not any(taken_by_contender), "nobody else got the lock while it was held"
    assert await client.get(locks.key("p1")) is None, "released at the end"


async def test_waiting_for_a_lock_gives_up_after_the_bound(client: aioredis.Redis) -> None:
    locks = ProductLocks(client, KEY_PREFIX, ttl_ms=5000, wait_ms=300)
    await client.set(locks.key("busy"), "another consumer", px=60_000)

    async def hold_both() -> tuple[bool, bool, object]:
        async with locks.hold(["busy", "free"]) as held:
            return held.holds("busy"), held.holds("free"), held.refused.get("busy")

    busy, free, why = await asyncio.wait_for(hold_both(), 10)
    assert (busy, free) == (False, True)
    assert isinstance(why, LockBusy)
    assert await client.get(locks.key("busy")) == b"another consumer", "not taken, not freed"


async def test_a_busy_lock_fails_its_event_and_the_rest_of_the_round_applies(
    pipeline: EventsPipeline, client: aioredis.Redis
) -> None:
    await pipeline.seed(Product("busy", category="shirt", price=1.0))
    await pipeline.seed(Product("free", category="shirt", price=1.0), seed=1)
    applier = pipeline.applier(lock_wait_ms=300)
    await client.set(applier.locks.key("busy"), "another consumer", px=60_000)

    outcomes = await applier.apply(
        [
            PendingChange(f"{10**12}-1", 10**12 << 20 | 1, Update(ProductPatch("busy", price=2.0))),
            PendingChange(f"{10**12}-2", 10**12 << 20 | 2, Update(ProductPatch("free", price=2.0))),
        ]
    )

    assert isinstance(outcomes[f"{10**12}-1"], LockBusy)
    assert outcomes[f"{10**12}-2"] is Applied.APPLIED
    busy, free = pipeline.stored("busy"), pipeline.stored("free")
    assert busy is not None and busy.product.price == 1.0
    assert free is not None and free.product.price == 2.0


async def test_a_lock_taken_away_mid_round_aborts_that_products_write(
    pipeline: EventsPipeline, client: aioredis.Redis, image_host: HeldImageHost
) -> None:
    before = await pipeline.seed(Product("slow", category="shirt", price=10.0), seed=7)
    applier = pipeline.applier()
    upsert = Upsert(
        Product("slow", category="shirt", price=20.0), (ImageInput(uri=image_host.url()),)
    )
    apply = asyncio.create_task(
        applier.apply([PendingChange(f"{10**12}-1", 10**12 << 20 | 1, upsert)])
    )
    await asyncio.wait_for(image_host.requested.wait(), 10)
    # While the photo downloads, the lock goes to someone else (expired during a Redis
    # stall, deleted by hand...).
    await client.set(applier.locks.key("slow"), "another consumer", px=60_000)
    image_host.release.set()

    outcomes = await asyncio.wait_for(apply, 30)

    assert isinstance(outcomes[f"{10**12}-1"], LockLost)
    after = pipeline.stored("slow")
    assert after is not None
    assert (after.product.price, after.image_sha256) == (10.0, before.image_sha256)
    assert after.image_sha256 != sha256_hex(product_jpeg("shirt", 99)), "no new photo stored"
    assert await client.get(applier.locks.key("slow")) == b"another consumer", "theirs, kept"


async def test_a_lock_whose_release_failed_is_taken_back_at_once(
    redis_server: RedisServer,
) -> None:
    # A short deadline, as the consumer's client has: the release fails while Redis is frozen.
    client = redis_client(RedisSettings(url=redis_server.url), timeout_s=0.3)
    locks = ProductLocks(client, KEY_PREFIX, ttl_ms=60_000, wait_ms=0)
    try:
        round_one = locks.hold(["p1"])
        assert (await round_one.__aenter__()).holds("p1")
        with redis_server.frozen():
            await round_one.__aexit__(None, None, None)
        assert await client.get(locks.key("p1")) is not None, "the release did fail"

        async with locks.hold(["p1"]) as held:
            assert held.holds("p1"), "its own lock, taken back without waiting for the TTL"
            assert held.refused == {}
    finally:
        await client.aclose()


async def test_another_consumers_orphaned_lock_is_not_taken(client: aioredis.Redis) -> None:
    theirs = ProductLocks(client, KEY_PREFIX, ttl_ms=60_000)
    mine = ProductLocks(client, KEY_PREFIX, ttl_ms=60_000, wait_ms=0)
    round_one = theirs.hold(["p1"])
    await round_one.__aenter__()  # never released: its holder died
    owner = await client.get(theirs.key("p1"))

    async with mine.hold(["p1"]) as held:
        assert not held.holds("p1")
        assert isinstance(held.refused["p1"], LockBusy)
    assert await client.get(theirs.key("p1")) == owner


async def test_an_event_whose_product_is_locked_by_another_consumer_spends_no_attempt(
    pipeline: EventsPipeline, client: aioredis.Redis
) -> None:
    await pipeline.seed(Product("busy", category="shirt", price=1.0))
    # Held for longer than every attempt's wait: a failed attempt per wait would dead-letter.
    await client.set(f"{KEY_PREFIX}:event-lock:busy", "another consumer", px=2500)
    publish(sync_redis(pipeline.redis_url), STREAM, update_event(ProductPatch("busy", price=2.0)))

    consumer = await pipeline.consumer("c", max_attempts=2, lock_wait_ms=300, lock_ttl_ms=500)

    await eventually(lambda: consumer.counters.processed == 1, "applied once the lock is free")
    stored = pipeline.stored("busy")
    assert stored is not None and stored.product.price == 2.0
    assert (consumer.counters.retried, consumer.counters.dead_lettered) == (0, 0)
