"""Redis calls that never fail the caller: a deadline each, failures logged and counted, and
a short back-off after a failure so a dead Redis costs one timeout, not one per request."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as aioredis

from vrs.observability.metrics.dependencies import DependencyHealth
from vrs.settings import RedisSettings

log = logging.getLogger(__name__)
T = TypeVar("T")


class RedisGuard:
    """Runs Redis calls with a deadline; a failure is logged, counted and backs off."""

    def __init__(
        self,
        client: aioredis.Redis,
        settings: RedisSettings,
        health: DependencyHealth | None = None,
    ) -> None:
        self.client = client
        # vrs_redis_up and vrs_redis_failures_total, registered by whoever made the guard.
        self.health = health or DependencyHealth("redis", "Redis")
        self._timeout_s = settings.timeout_ms / 1000.0
        self._retry_after_s = settings.retry_after_s
        self._down_until = 0.0
        self.errors = 0

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    @property
    def retry_in_s(self) -> float:
        """How long until the next call reaches Redis (0 when it would now)."""
        return max(0.0, self._down_until - time.monotonic())

    async def call(self, what: str, op: Callable[[aioredis.Redis], Awaitable[T]]) -> T | None:
        """op(client) within the deadline, or None when Redis is down, slow or backing off."""
        if not self.available:
            return None
        # Any exception, not only Redis and socket ones: a garbled reply that op cannot parse
        # must not fail the caller either.
        try:
            # Awaited in the caller's task: wait_for ran each call as a task of its own, two
            # more turns of the event loop (~40 us a call here, on every cache hit). The
            # deadline keeps wait_for's leniency after a stall (see _Deadline).
            deadline = _Deadline(self._timeout_s)
            try:
                answer = await op(self.client)
            finally:
                timed_out = deadline.close()
        except asyncio.CancelledError:
            if not timed_out:
                raise
            self._failed(what, TimeoutError(f"no reply within {self._timeout_s} s"))
            return None
        except Exception as exc:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # redis-py can turn a cancellation into a timeout or connection error (3.11):
                # the caller is being cancelled, not failing over; Redis is not down either.
                raise asyncio.CancelledError from exc
            self._failed(what, exc)
            return None
        self.health.reached()
        return answer

    def _failed(self, what: str, exc: BaseException) -> None:
        self.errors += 1
        self.health.failed()
        self._down_until = time.monotonic() + self._retry_after_s
        log.warning(
            "redis call failed; going on without it",
            extra={
                "op": what,
                "error": f"{type(exc).__name__}: {exc}",
                "retry_in_s": self._retry_after_s,
                "redis_errors": self.errors,
            },
        )

    async def close(self) -> None:
        await self.client.aclose()


class _Deadline:
    """Cancels the calling task once `timeout_s` has passed, one turn of the event loop late.

    After the loop stalls past the deadline (a model loading), the turn that notices it also
    reads the sockets: a reply that came in time wakes the task in that turn, and the next
    turn runs the task (which takes the reply) before the cancellation. asyncio.timeout
    cancels at once and loses that reply (a test flaked); wait_for keeps it, but runs every
    call as a task of its own.
    """

    __slots__ = ("_cancelling", "_expired", "_handle", "_loop", "_task")

    def __init__(self, timeout_s: float) -> None:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a Redis call runs in a task")
        self._task = task
        self._loop = task.get_loop()
        # Cancellations already requested (by others) when the clock starts.
        self._cancelling = task.cancelling()
        self._expired = False
        self._handle: asyncio.Handle | None = self._loop.call_later(timeout_s, self._due)

    def _due(self) -> None:
        self._handle = self._loop.call_soon(self._cancel)

    def _cancel(self) -> None:
        self._handle = None
        self._expired = True
        self._task.cancel()

    def close(self) -> bool:
        """Stops the clock. True when it cancelled the task and nobody else did: that
        cancellation is withdrawn, and the call timed out."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if not self._expired:
            return False
        return self._task.uncancel() <= self._cancelling
