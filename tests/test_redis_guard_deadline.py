"""The Redis guard's deadline, kept in the caller's task (no task per call): a reply that came
in time is taken even when the event loop stalled past the deadline; a late one is a failure
that leaves the caller free to go on; a caller cancelled meanwhile stays cancelled."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

import redis.asyncio as aioredis

from vrs.redis_access.guard import RedisGuard
from vrs.settings import RedisSettings

TIMEOUT_MS = 50


def guard() -> RedisGuard:
    return RedisGuard(aioredis.Redis(), RedisSettings(timeout_ms=TIMEOUT_MS, retry_after_s=0))


@contextmanager
def socket_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A reader the 'Redis call' waits on, and the writer that sends it its reply."""
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    try:
        yield reader, writer
    finally:
        reader.close()
        writer.close()


def reading(reader: socket.socket) -> Callable[[aioredis.Redis], Awaitable[bytes]]:
    async def op(_: aioredis.Redis) -> bytes:
        return await asyncio.get_running_loop().sock_recv(reader, 16)

    return op


async def test_a_reply_that_came_in_time_is_taken_after_the_loop_stalled() -> None:
    """The reply is sent 10 ms in, then the loop is blocked past the deadline (a model
    loading): the turn that notices the deadline also reads the reply, which wins."""
    checked = guard()
    with socket_pair() as (reader, writer):

        def reply_then_stall() -> None:
            writer.send(b"in time")
            time.sleep(4 * TIMEOUT_MS / 1000)

        asyncio.get_running_loop().call_later(0.01, reply_then_stall)
        answer = await checked.call("read", reading(reader))
    assert answer == b"in time"
    assert checked.errors == 0 and checked.available


async def test_a_late_reply_is_a_failure_and_the_caller_goes_on() -> None:
    checked = guard()
    with socket_pair() as (reader, _):
        started = time.monotonic()
        answer = await checked.call("read", reading(reader))
        waited = time.monotonic() - started
    assert answer is None and checked.errors == 1
    assert TIMEOUT_MS / 1000 <= waited < 1.0
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0, "the deadline's cancel is withdrawn"
    await asyncio.sleep(0.01)  # not cancelled: the caller awaits on


async def test_a_caller_cancelled_before_the_deadline_stays_cancelled() -> None:
    checked = guard()
    with socket_pair() as (reader, _):
        caller = asyncio.create_task(checked.call("read", reading(reader)))
        await asyncio.sleep(0.01)
        caller.cancel()
        done, _ = await asyncio.wait({caller}, timeout=1)
    assert done and caller.cancelled()
    assert checked.errors == 0, "a cancelled caller is not a Redis outage"
    await asyncio.sleep(2 * TIMEOUT_MS / 1000)  # the deadline's timer cancels nothing later


async def test_the_deadline_leaves_nothing_scheduled_after_a_reply() -> None:
    checked = guard()
    with socket_pair() as (reader, writer):
        writer.send(b"at once")
        assert await checked.call("read", reading(reader)) == b"at once"
    # Its timer was cancelled: waiting past it cancels nothing.
    await asyncio.sleep(2 * TIMEOUT_MS / 1000)
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0
