"""The catalog generation: a number in Redis that every catalog change bumps.

Cached search results are keyed by it, so a change makes every older result unreachable at
once, whichever replica cached it. No number may come back after a change, across outages:
- a bump that fails is remembered and retried until one lands (BumpRetrier); meanwhile the
  process that made the change reads no generation, so its own searches go uncached;
- a Redis whose script cache is empty is a new Redis (restarted, even with its data kept by
  AOF, or failed over): the first read or bump that reaches it bumps before answering, since a
  change made while it was away may have found no one to bump;
- a missing or garbled number (FLUSHALL, restart without persistence, eviction) starts again
  from Redis's clock in microseconds, above every number handed out before it.
A reader may fetch the value keyed by the generation in the same script (current_and_get): a
cache hit is one round trip, generation and result read atomically.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from vrs.redis_access.guard import RedisGuard

log = logging.getLogger(__name__)
T = TypeVar("T")

# KEYS[1]: the generation; ARGV[1] = '1' bumps it. Returns it as a string: Lua numbers are
# doubles, and a microsecond clock is past the digits tostring() keeps. With ARGV[2] and
# ARGV[3], returns {generation, GET(ARGV[2] .. generation .. ARGV[3])}: that key is not in
# KEYS, which a single Redis (vrs's deployments) allows and Redis Cluster would not. A leading
# zero counts as garbled, so the string is the one Python's int() -> str() gives back.
SCRIPT = """
local g = redis.call('GET', KEYS[1])
if not g or #g > 18 or not string.match(g, '^[1-9]%d*$') then
  local t = redis.call('TIME')
  redis.call('SET', KEYS[1], t[1] .. string.rep('0', 6 - #t[2]) .. t[2])
end
if ARGV[1] == '1' then redis.call('INCR', KEYS[1]) end
g = redis.call('GET', KEYS[1])
if ARGV[2] then return {g, redis.call('GET', ARGV[2] .. g .. ARGV[3])} end
return g
"""
SCRIPT_SHA = hashlib.sha1(SCRIPT.encode()).hexdigest()


class CatalogGeneration:
    """The catalog generation in Redis: read before each cached search, bumped by each change.

    One per process: whoever builds the embedder makes it and hands it to the search of the
    same process, so the writer's unbumped changes also keep that process's searches uncached
    (a search-only process makes its own).
    """

    def __init__(self, guard: RedisGuard, key_prefix: str) -> None:
        self._guard = guard
        self.key = f"{key_prefix}:catalog-generation"
        # Changes recorded, and how many of them a bump that landed has covered.
        self._changes = 0
        self._covered = 0
        self._failing_since: float | None = None
        self._pending = asyncio.Event()
        self._bumping = asyncio.Lock()

    @property
    def pending(self) -> bool:
        """True while a change has no bump that landed after it."""
        return self._covered < self._changes

    async def bump(self) -> int | None:
        """Record a catalog change (already written to the store) and bump for it.

        A failed bump is not lost: it stays pending until catch_up() lands one.
        """
        self.mark_changed()
        return await self.catch_up()

    def mark_changed(self) -> None:
        """Record a change without bumping now (BumpRetrier bumps soon)."""
        self._changes += 1
        self._pending.set()

    async def catch_up(self) -> int | None:
        """The generation once a bump covers every change recorded so far, or None."""
        # One attempt at a time: changes recorded meanwhile ride on the next one, and
        # concurrent readers do not each bump.
        async with self._bumping:
            if not self.pending:
                return await self._read()
            return await self._bump_pending()

    async def _bump_pending(self) -> int | None:
        upto = self._changes
        value = await self._guard.call("bump generation", lambda r: self._run(r, bump=True))
        if value is None:
            if self._failing_since is None:
                self._failing_since = time.monotonic()
                log.error(
                    "catalog changed but the generation could not be bumped: retrying until "
                    "Redis answers; this process serves no cached result meanwhile",
                    extra={"key": self.key},
                )
            return None
        self._covered = max(self._covered, upto)
        if not self.pending:
            self._pending.clear()
            if self._failing_since is not None:
                log.warning(
                    "catalog generation bumped after an outage",
                    extra={
                        "key": self.key,
                        "outage_s": round(time.monotonic() - self._failing_since, 3),
                    },
                )
                self._failing_since = None
        return value

    async def wait_pending(self) -> None:
        """Until a change is pending."""
        await self._pending.wait()

    async def current(self) -> int | None:
        """The generation, or None when it cannot be trusted (then nothing may be cached)."""
        if self.pending:
            # A change of ours has no bump yet: results cached before it are keyed under the
            # number Redis holds. Bumping now is both the retry and the read.
            return await self.catch_up()
        return await self._read()

    async def current_and_get(self, before: str, after: str) -> tuple[int, bytes | None] | None:
        """The generation and the value under `before + generation + after` (None: no such
        key), read in one round trip; None when the generation cannot be trusted or Redis
        failed (then nothing may be cached)."""
        if self.pending:
            # Rare (a change of ours not bumped yet): the bump first, then a plain GET.
            generation = await self.catch_up()
            if generation is None:
                return None
            found = await self._guard.call(
                "read keyed by generation",
                lambda r: _boxed(r.get(f"{before}{generation}{after}")),
            )
            if found is None:
                return None
            value = found[0]
            return generation, value.encode() if isinstance(value, str) else value
        return await self._guard.call(
            "read generation and its value",
            lambda r: self._run_and_get(r, before, after),
        )

    async def _read(self) -> int | None:
        return await self._guard.call("read generation", lambda r: self._run(r, bump=False))

    async def _run(self, client: Redis, *, bump: bool) -> int:
        return int(await self._script(client, "1" if bump else "0"))

    async def _run_and_get(
        self, client: Redis, before: str, after: str
    ) -> tuple[int, bytes | None]:
        generation, value = await self._script(client, "0", before, after)
        return int(generation), value

    async def _script(self, client: Redis, flag: str, *lookup: str) -> Any:
        try:
            return await client.evalsha(SCRIPT_SHA, 1, self.key, flag, *lookup)
        except NoScriptError:
            # A new Redis. EVAL bumps and caches the script in one atomic step, so every
            # reader after it gets the new number, and one racing it finds no script either.
            raw = await client.eval(SCRIPT, 1, self.key, "1", *lookup)
            # Scripts loaded by EVAL may be evicted (Redis 7.4+); loaded ones stay.
            await client.script_load(SCRIPT)
            return raw


class BumpRetrier:
    """Retries a generation's pending bump in the background, at the Redis guard's pace."""

    # Floor between attempts, for VRS_REDIS_RETRY_AFTER_S=0.
    MIN_INTERVAL_S = 0.05

    def __init__(self, generation: CatalogGeneration, guard: RedisGuard) -> None:
        self._generation = generation
        self._guard = guard
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        # A previous run may have died between a store write and its bump, and a redelivered
        # event finds the store already written (nothing to bump for): bump once at startup.
        self._generation.mark_changed()
        self._task = asyncio.create_task(self._run(), name="generation-bump-retrier")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        # The flag as well as the cancel: a cancellation that a Redis call turns into an error
        # must not leave the loop waiting for the next change (stop would wait forever).
        while not self._stopping:
            await self._generation.wait_pending()
            await self._generation.catch_up()
            if self._generation.pending:
                # The guard's back-off is the retry policy: one attempt per back-off period.
                await asyncio.sleep(max(self._guard.retry_in_s, self.MIN_INTERVAL_S))


async def _boxed(value: Awaitable[T]) -> tuple[T]:
    # A missing key ((None,)) told from a failed call (None).
    return (await value,)
