"""Redis cache of hot search results and query embeddings.

Result keys carry the catalog generation: a catalog change bumps it, and every older result
becomes unreachable at once (it then expires by TTL). Redis trouble never reaches the caller:
see vrs.redis_guard.
"""

from __future__ import annotations

import hashlib

import numpy as np

from services.search.results import SearchResult
from vrs.catalog import Vector
from vrs.generation import CatalogGeneration
from vrs.redis_guard import RedisGuard
from vrs.settings import CacheSettings


class SearchCache:
    def __init__(self, guard: RedisGuard, settings: CacheSettings, key_prefix: str) -> None:
        self._guard = guard
        self._settings = settings
        self._prefix = key_prefix
        self.generation = CatalogGeneration(guard, key_prefix)
        self.hits = 0
        self.misses = 0

    @property
    def errors(self) -> int:
        return self._guard.errors

    def result_key(self, model_id: str, generation: int, query: str) -> str:
        digest = hashlib.sha256(query.encode()).hexdigest()[:32]
        return f"{self._prefix}:result:{model_id}:g{generation}:{digest}"

    async def get_result(self, key: str) -> SearchResult | None:
        raw = await self._guard.call("get result", lambda r: r.get(key))
        if raw is None:
            self.misses += 1
            return None
        self.hits += 1
        return SearchResult.decode(_as_bytes(raw)).cached()

    async def put_result(self, key: str, result: SearchResult) -> None:
        ttl = self._settings.result_ttl_s
        await self._guard.call("put result", lambda r: r.set(key, result.encode(), ex=ttl))

    async def get_embedding(self, model_id: str, image_sha256: str) -> Vector | None:
        key = self._embedding_key(model_id, image_sha256)
        raw = await self._guard.call("get embedding", lambda r: r.get(key))
        return None if raw is None else np.frombuffer(_as_bytes(raw), dtype=np.float32).copy()

    async def put_embedding(self, model_id: str, image_sha256: str, vector: Vector) -> None:
        key = self._embedding_key(model_id, image_sha256)
        data = np.asarray(vector, dtype=np.float32).tobytes()
        ttl = self._settings.embedding_ttl_s
        await self._guard.call("put embedding", lambda r: r.set(key, data, ex=ttl))

    def _embedding_key(self, model_id: str, image_sha256: str) -> str:
        return f"{self._prefix}:embedding:{model_id}:{image_sha256}"


def _as_bytes(raw: bytes | str) -> bytes:
    # The client is built with decode_responses=False, so values arrive as bytes.
    return raw if isinstance(raw, bytes) else raw.encode()
