"""Work whose callers gave up still has its failure read: asyncio never reports "Task
exception was never retrieved" (seen in the logs under a connection flood)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest_asyncio
import redis.asyncio as aioredis

from services.search.singleflight import SingleFlight
from vrs.redis_access.guard import RedisGuard
from vrs.settings import RedisSettings


@pytest_asyncio.fixture
async def unretrieved() -> AsyncIterator[list[str]]:
    """The messages asyncio's exception handler gets while the test runs."""
    loop = asyncio.get_running_loop()
    seen: list[str] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: seen.append(str(context.get("message"))))
    yield seen
    loop.set_exception_handler(previous)


async def turns_cancellation_into_an_error() -> None:
    # What redis-py can do (3.11): a cancelled read ends as a timeout or connection error.
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        raise ConnectionError("the read was cut short") from None


async def cancel_soon(call: Callable[[], Coroutine[Any, Any, Any]]) -> None:
    caller = asyncio.create_task(call())
    await asyncio.sleep(0.05)
    caller.cancel()
    await asyncio.gather(caller, return_exceptions=True)


async def give_up_on(call: Callable[[], Coroutine[Any, Any, Any]], settle_s: float = 0.05) -> None:
    """Call, cancel the caller, and let whatever it started end and be collected."""
    await cancel_soon(call)  # its frames (and the tasks they hold) are gone once it returns
    await asyncio.sleep(settle_s)
    gc.collect()
    await asyncio.sleep(0)


async def test_a_redis_call_whose_caller_gave_up_has_its_error_read(
    unretrieved: list[str],
) -> None:
    guard = RedisGuard(aioredis.Redis(), RedisSettings(timeout_ms=5000))

    await give_up_on(lambda: guard.call("read", lambda _: turns_cancellation_into_an_error()))

    assert unretrieved == []


async def test_a_single_flight_all_callers_left_has_its_error_read(
    unretrieved: list[str],
) -> None:
    flights: SingleFlight[None] = SingleFlight()

    async def fails_later() -> None:
        await asyncio.sleep(0.1)
        raise ConnectionError("Qdrant went away")

    await give_up_on(lambda: flights.do("key", fails_later), settle_s=0.2)

    assert unretrieved == []
