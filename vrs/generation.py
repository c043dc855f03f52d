"""The catalog generation: a counter in Redis that every catalog change bumps.

Cached search results are keyed by it, so a change makes every older result unreachable at
once, whichever replica cached it.
"""

from __future__ import annotations

import logging

from redis.asyncio import Redis

from vrs.redis_guard import RedisGuard

log = logging.getLogger(__name__)


class CatalogGeneration:
    def __init__(self, guard: RedisGuard, key_prefix: str) -> None:
        self._guard = guard
        self.key = f"{key_prefix}:catalog-generation"

    async def bump(self) -> int | None:
        value = await self._guard.call("bump generation", lambda r: r.incr(self.key))
        if value is None:
            log.error(
                "catalog changed but the generation could not be bumped: cached results "
                "may be served until their TTL",
                extra={"key": self.key},
            )
        return None if value is None else int(value)

    async def current(self) -> int | None:
        """The generation, or None when Redis cannot say (then nothing may be cached)."""

        async def read(client: Redis) -> int:
            return int(await client.get(self.key) or 0)

        return await self._guard.call("read generation", read)
