"""Redis calls that never fail the caller: a deadline each, failures logged and counted, and
a short back-off after a failure so a dead Redis costs one timeout, not one per request."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as aioredis

from vrs.background import observe
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
            # wait_for, not asyncio.timeout: after the loop stalls (a model loading), wait_for
            # still takes a reply that came in time; asyncio.timeout cancels it (a test flaked).
            call = asyncio.ensure_future(op(self.client))
            # Whatever the call ends with is seen here, even when our caller is cancelled
            # first (wait_for then only cancels it, and redis-py may answer the cancellation
            # with a TimeoutError nobody would read: "Task exception was never retrieved").
            observe(call, what)
            answer = await asyncio.wait_for(call, self._timeout_s)
        except Exception as exc:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # redis-py can turn a cancellation into a timeout or connection error (3.11):
                # the caller is being cancelled, not failing over; Redis is not down either.
                raise asyncio.CancelledError from exc
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
            return None
        self.health.reached()
        return answer

    async def close(self) -> None:
        await self.client.aclose()
