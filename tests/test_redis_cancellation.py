"""A cancelled caller stays cancelled when a Redis call turns the cancellation into an error
(redis-py can, on Python 3.11): the guard does not swallow it, and stopping the bump retrier
never waits forever. Real redis-server."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from tests.support.cache_env import guard_for
from tests.support.redis_server import RedisServer
from vrs.redis_access.generation import BumpRetrier, CatalogGeneration

STOP_WITHIN_S = 5


async def timeout_instead_of_cancel(client: aioredis.Redis) -> None:
    """What redis-py's read path can do with a cancellation: answer with a timeout error."""
    await client.ping()
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        raise TimeoutError("read timed out") from None


async def test_a_cancellation_turned_into_an_error_still_cancels_the_caller(
    redis_server: RedisServer,
) -> None:
    guard = guard_for(redis_server.url)
    try:
        task = asyncio.ensure_future(guard.call("slow read", timeout_instead_of_cancel))
        await asyncio.sleep(0.2)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=STOP_WITHIN_S)
        assert done and task.cancelled()
        assert guard.errors == 0 and guard.available, "a cancelled caller is not a Redis outage"
    finally:
        await guard.close()


async def test_the_bump_retrier_stops_while_its_redis_call_hangs(
    redis_server: RedisServer,
) -> None:
    guard = guard_for(redis_server.url)
    generation = CatalogGeneration(guard, "cancel")
    retrier = BumpRetrier(generation, guard)
    try:
        # The retrier's bump blocks in Redis (a client paused by CLIENT PAUSE) when stop comes.
        admin = aioredis.Redis.from_url(redis_server.url)
        await admin.client_pause(3000, all=True)
        retrier.start()
        await asyncio.sleep(0.2)
        await asyncio.wait_for(retrier.stop(), STOP_WITHIN_S)
        await admin.client_unpause()
        await admin.aclose()
    finally:
        await guard.close()
