"""Per-product locks in Redis: events of one product handled by two consumers at once are
applied one after the other, so the version check and the write cannot interleave."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence

import redis.asyncio as aioredis

# Delete the lock only if we still own it (it may have expired and been taken).
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class ProductLocks:
    def __init__(self, client: aioredis.Redis, key_prefix: str, ttl_ms: int) -> None:
        self._client = client
        self._prefix = key_prefix
        self._ttl_ms = ttl_ms
        self._release = client.register_script(_RELEASE)

    @contextlib.asynccontextmanager
    async def hold(self, product_ids: Sequence[str]) -> AsyncIterator[None]:
        """All the products' locks, taken in sorted order (no deadlock between consumers).

        A consumer that dies holding locks loses them after ttl_ms.
        """
        token = uuid.uuid4().hex
        keys = [f"{self._prefix}:event-lock:{pid}" for pid in sorted(set(product_ids))]
        taken: list[str] = []
        try:
            for key in keys:
                delay = 0.005
                while not await self._client.set(key, token, nx=True, px=self._ttl_ms):
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 0.2)
                taken.append(key)
            yield
        finally:
            for key in taken:
                await self._release(keys=[key], args=[token])
