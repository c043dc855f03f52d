"""No cached search result outlives a catalog change, across Redis outages, restarts and
data loss: real redis-server processes (AOF where Redis keeps its data), stopped and restarted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
import redis

from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.cache_env import first_answer, guard_for, image_query, memory_store, upsert
from tests.support.images import product_jpeg
from tests.support.redis_server import RedisServer
from tests.support.search_env import running_vrs
from vrs.redis_access.generation import BumpRetrier, CatalogGeneration
from vrs.redis_access.guard import RedisGuard

PREFIX = "outage"
GuardFactory = Callable[[str], RedisGuard]


@pytest.fixture
def aof_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server keeping its data across restarts (AOF), as deploy/k8s runs it."""
    folder = tmp_path / "redis-aof"
    folder.mkdir()
    server = RedisServer(folder, appendonly=True)
    server.start()
    yield server
    server.stop()


@pytest_asyncio.fixture
async def guards() -> AsyncIterator[GuardFactory]:
    """Redis guards, one per simulated process, closed at the end."""
    made: list[RedisGuard] = []

    def make(url: str) -> RedisGuard:
        made.append(guard_for(url))
        return made[-1]

    yield make
    for guard in made:
        await guard.close()


@pytest.fixture
def lockable_user(redis_server: RedisServer) -> Iterator[Callable[[bool], None]]:
    """A Redis user `embedder` that can be locked out while Redis keeps serving the others."""
    admin = redis.Redis.from_url(redis_server.url)
    admin.acl_setuser("embedder", enabled=True, passwords=["+pw"], keys=["*"], commands=["+@all"])

    def allow(allowed: bool) -> None:
        admin.acl_setuser("embedder", enabled=allowed)
        if not allowed:
            admin.client_kill_filter(user="embedder")

    yield allow
    admin.close()


def embedder_url(server: RedisServer) -> str:
    return f"redis://embedder:pw@127.0.0.1:{server.port}/0"


async def test_a_change_made_while_redis_was_down_is_not_served_stale_after_an_aof_restart(
    tmp_path: Path, effnet: ImageEmbedder, aof_redis: RedisServer, request: pytest.FixtureRequest
) -> None:
    store = memory_store(tmp_path, effnet)
    request.addfinalizer(store.close)
    photo = product_jpeg("hat", seed=901)
    ask = image_query(photo, categories=["newcomer"])
    async with running_vrs(
        tmp_path, effnet, store, redis={"url": aof_redis.url, "retry_after_s": 0.2}
    ) as vrs:
        await upsert(vrs, "old-shirt", "shirt", product_jpeg("shirt", seed=902))
        assert not (await vrs.search.SearchByImage(ask)).matches
        cached = await vrs.search.SearchByImage(ask)
        assert cached.from_cache and not cached.matches, "precondition: 0 matches, cached"

        aof_redis.stop()
        await upsert(vrs, "new-hat", "newcomer", photo)  # the cache is best effort
        aof_redis.start()
        with redis.Redis.from_url(aof_redis.url) as client:
            assert list(client.scan_iter("vrs:result:*")), "precondition: AOF kept the result"

        deadline = time.monotonic() + 10
        while True:
            answer = await vrs.search.SearchByImage(ask, timeout=5)
            assert [m.product_id for m in answer.matches] == ["new-hat"], "stale cached result"
            if answer.from_cache:
                break  # caching resumed, with the fresh result
            assert time.monotonic() < deadline, "caching did not resume within 10 s"


async def test_after_an_aof_restart_every_replica_reads_a_newer_generation(
    aof_redis: RedisServer, guards: GuardFactory
) -> None:
    writer = CatalogGeneration(guards(aof_redis.url), PREFIX)
    replicas = [CatalogGeneration(guards(aof_redis.url), PREFIX) for _ in range(3)]
    await writer.bump()
    before = [await first_answer(r.current) for r in replicas]
    assert len(set(before)) == 1

    aof_redis.restart()
    with redis.Redis.from_url(aof_redis.url) as client:
        assert int(client.get(writer.key) or 0) == before[0], "precondition: AOF kept the number"

    after = [await first_answer(r.current) for r in replicas]
    assert min(after) > before[0], "a replica trusted results cached before the restart"


async def test_a_bump_that_could_not_reach_redis_lands_as_soon_as_it_can(
    redis_server: RedisServer, lockable_user: Callable[[bool], None], guards: GuardFactory
) -> None:
    writer_guard = guards(embedder_url(redis_server))
    writer = CatalogGeneration(writer_guard, PREFIX)
    replica = CatalogGeneration(guards(redis_server.url), PREFIX)
    retrier = BumpRetrier(writer, writer_guard)
    retrier.start()
    try:
        await first_answer(writer.catch_up)
        before = await first_answer(replica.current)

        lockable_user(False)  # the embedder cannot reach Redis; the replicas still can
        assert await writer.bump() is None
        assert writer.pending, "the failed bump is remembered"
        lockable_user(True)

        deadline = time.monotonic() + 10
        while await first_answer(replica.current) == before:
            assert time.monotonic() < deadline, "the pending bump did not land within 10 s"
            await asyncio.sleep(0.05)
        # Redis holds the bump before the writer has read its reply: a replica may see it first.
        while writer.pending:
            assert time.monotonic() < deadline, "the landed bump is still pending after 10 s"
            await asyncio.sleep(0.01)
    finally:
        await retrier.stop()


async def test_searches_in_the_writers_process_read_no_generation_until_its_bump_lands(
    redis_server: RedisServer, lockable_user: Callable[[bool], None], guards: GuardFactory
) -> None:
    guard = guards(embedder_url(redis_server))
    # The composition root hands the embedder's generation to the search of its process.
    writer = reader = CatalogGeneration(guard, PREFIX)
    before = await first_answer(reader.current)

    lockable_user(False)
    assert await writer.bump() is None
    lockable_user(True)
    await asyncio.sleep(
        guard.retry_in_s
    )  # past the guard's back-off: Redis answers this process again

    after = await reader.current()
    assert after is not None and after > before, "the old number was read before the bump"
    assert not writer.pending


async def test_a_starting_embedder_bumps_for_changes_a_crash_may_have_left_unbumped(
    redis_server: RedisServer, guards: GuardFactory
) -> None:
    replica = CatalogGeneration(guards(redis_server.url), PREFIX)
    before = await first_answer(replica.current)
    writer_guard = guards(redis_server.url)
    retrier = BumpRetrier(CatalogGeneration(writer_guard, PREFIX), writer_guard)
    retrier.start()
    try:
        deadline = time.monotonic() + 10
        while await first_answer(replica.current) == before:
            assert time.monotonic() < deadline, "no bump at startup within 10 s"
            await asyncio.sleep(0.05)
    finally:
        await retrier.stop()


@pytest.mark.parametrize("loss", ["flushall", "restart-without-persistence", "deleted", "garbled"])
async def test_a_lost_generation_never_comes_back_with_an_old_number(
    redis_server: RedisServer, guards: GuardFactory, loss: str
) -> None:
    # A replica may still hold results it computed under an old number: reusing one would
    # serve them after changes it never saw.
    generation = CatalogGeneration(guards(redis_server.url), PREFIX)
    for _ in range(3):
        await generation.bump()
    before = await first_answer(generation.current)

    with redis.Redis.from_url(redis_server.url) as client:
        if loss == "flushall":
            client.flushall()
        elif loss == "deleted":
            client.delete(generation.key)
        elif loss == "garbled":
            client.set(generation.key, "not a number")
    if loss == "restart-without-persistence":
        redis_server.restart()

    after = await first_answer(generation.current)
    assert after > before
