"""Redis cache of hot search results and query embeddings.

Result keys carry the catalog generation: a catalog change bumps it, and every older result
becomes unreachable at once (it then expires by TTL); vrs.redis_access.generation keeps that
true across Redis outages and restarts. A result is stored under the generation read before
computing it, with a plain SET: when a change lands meanwhile, its bump (after the store write)
has already made that key unreachable. Redis trouble never reaches the caller (see
vrs.redis_access.guard), nor does a cached value that cannot be decoded (a miss).

A result lookup is one round trip: the generation script reads the result keyed by it too.
Results are kept as the process's result codec encodes them (the gRPC edge's: the response it
sends), checksummed, so a hit is checked but never decoded or re-encoded here.
"""

from __future__ import annotations

import hashlib
import logging
import struct
import zlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

import numpy as np

from services.search.results import EncodedResult, JsonResultCodec, ResultCodec, SearchResult
from vrs.catalog.vectors import Vector
from vrs.images.region import Region, RegionSource, UsedRegion
from vrs.observability.metrics.search import CacheKind, SearchMetrics
from vrs.redis_access.generation import CatalogGeneration
from vrs.redis_access.guard import RedisGuard
from vrs.settings import CacheSettings

log = logging.getLogger(__name__)
T = TypeVar("T")

# Each cached result: the codec's tag, this byte, the payload's CRC-32 (4 bytes), the payload.
_FRAME = b"\x00"


class SearchCache:
    """Hot search results and query embeddings in Redis, best effort."""

    def __init__(
        self,
        guard: RedisGuard,
        generation: CatalogGeneration,
        settings: CacheSettings,
        key_prefix: str,
        metrics: SearchMetrics | None = None,
        codec: ResultCodec | None = None,
    ) -> None:
        self._guard = guard
        self._settings = settings
        self._prefix = key_prefix
        self._codec: ResultCodec = codec or JsonResultCodec()
        self._header = self._codec.tag + _FRAME
        # The codec's tag is part of every result key: processes encoding otherwise (another
        # version, rolling out) never read each other's values.
        self._result_prefix = f"{key_prefix}:result:{self._codec.tag.decode()}:"
        self.generation = generation
        # Counted in the search's metrics only: `GetStats` reads them back from there.
        self._metrics = metrics or SearchMetrics()

    @property
    def hits(self) -> int:
        return self._metrics.cache_count("result", "hit")

    @property
    def misses(self) -> int:
        return self._metrics.cache_count("result", "miss")

    @property
    def errors(self) -> int:
        """Lookups of either kind that Redis failed, or whose value could not be decoded."""
        return self._metrics.cache_count(None, "error")

    def result_key(self, model_id: str, generation: int, query: str) -> str:
        before, after = self._result_key_parts(model_id, query)
        return f"{before}{generation}{after}"

    async def lookup_result(
        self, model_id: str, query: str
    ) -> tuple[str, EncodedResult | None] | None:
        """(the result's key under the current generation, the cached result or None), in one
        Redis round trip; None when nothing may be cached (Redis down or slow, or a change of
        this process not yet bumped). Each outcome is counted once."""
        before, after = self._result_key_parts(model_id, query)
        found = await self.generation.current_and_get(before, after)
        if found is None:
            self._metrics.cache("result", "error")
            return None
        generation, raw = found
        key = f"{before}{generation}{after}"
        if raw is None:
            self._metrics.cache("result", "miss")
            return key, None
        hit = self._decoded("result", key, raw, self._checked)
        self._metrics.cache("result", "hit" if hit is not None else "error")
        return key, hit

    async def put_result(self, key: str, result: SearchResult) -> None:
        payload = self._codec.encode(result.cached())
        value = b"".join((self._header, zlib.crc32(payload).to_bytes(4, "big"), payload))
        ttl = self._settings.result_ttl_s
        await self._guard.call("put result", lambda r: r.set(key, value, ex=ttl))

    async def get_embedding(
        self, model_id: str, image_sha256: str, region: Region | None
    ) -> tuple[Vector, UsedRegion] | None:
        """A query photo's cached vector for `region` (None: the server's own choice), with
        the region it was made of."""
        key = self._embedding_key(model_id, image_sha256, region)
        return await self._lookup("embedding", key, _embedding)

    async def put_embedding(
        self,
        model_id: str,
        image_sha256: str,
        region: Region | None,
        vector: Vector,
        used: UsedRegion,
    ) -> None:
        key = self._embedding_key(model_id, image_sha256, region)
        box = used.region
        head = _REGION.pack(box.x, box.y, box.width, box.height, _SOURCE_CODES[used.source])
        data = head + np.asarray(vector, dtype=np.float32).tobytes()
        ttl = self._settings.embedding_ttl_s
        await self._guard.call("put embedding", lambda r: r.set(key, data, ex=ttl))

    async def _lookup(self, kind: CacheKind, key: str, decode: Callable[[bytes], T]) -> T | None:
        """The decoded value, or None (a miss, a Redis failure or an undecodable value), each
        outcome counted once."""
        # Boxed, so a missing key ((None,)) is told from a failed call (None).
        answer = await self._guard.call(f"get {kind}", lambda r: _boxed(r.get(key)))
        if answer is None:
            self._metrics.cache(kind, "error")
            return None
        if answer[0] is None:
            self._metrics.cache(kind, "miss")
            return None
        value = self._decoded(kind, key, answer[0], decode)
        self._metrics.cache(kind, "hit" if value is not None else "error")
        return value

    def _decoded(
        self, what: str, key: str, raw: bytes | str, decode: Callable[[bytes], T]
    ) -> T | None:
        try:
            return decode(_as_bytes(raw))
        except Exception as exc:
            # Written by another version, or garbled: recompute rather than fail the search.
            log.warning(
                "cached %s cannot be decoded; treating it as a miss",
                what,
                extra={"key": key, "error": f"{type(exc).__name__}: {exc}"},
            )
            return None

    def _checked(self, raw: bytes) -> EncodedResult:
        """The framed payload, its codec and checksum verified (not decoded)."""
        start = len(self._header) + 4
        if not raw.startswith(self._header) or len(raw) < start:
            raise ValueError("not a result of this codec")
        payload = raw[start:]
        if zlib.crc32(payload) != int.from_bytes(raw[start - 4 : start], "big"):
            raise ValueError("checksum mismatch")
        return EncodedResult(payload, self._codec)

    def _result_key_parts(self, model_id: str, query: str) -> tuple[str, str]:
        """The result key around its generation."""
        digest = hashlib.sha256(query.encode()).hexdigest()[:32]
        return f"{self._result_prefix}{model_id}:g", f":{digest}"

    def _embedding_key(self, model_id: str, image_sha256: str, region: Region | None) -> str:
        where = "auto" if region is None else region.key()
        return f"{self._prefix}:embedding2:{model_id}:{image_sha256}:{where}"


async def _boxed(value: Awaitable[T]) -> tuple[T]:
    return (await value,)


# A cached query embedding: the region it shows (x, y, width, height, source), then the vector.
_REGION = struct.Struct("<4fB")
_SOURCE_CODES = {RegionSource.GIVEN: 1, RegionSource.FOUND: 2, RegionSource.WHOLE: 3}
_SOURCE_OF = {code: source for source, code in _SOURCE_CODES.items()}


def _embedding(raw: bytes) -> tuple[Vector, UsedRegion]:
    x, y, width, height, code = _REGION.unpack_from(raw)
    vector = np.frombuffer(raw, dtype=np.float32, offset=_REGION.size).copy()
    if vector.size == 0 or not np.isfinite(vector).all():
        raise ValueError(f"not a vector: {vector.size} values, finite: {np.isfinite(vector).all()}")
    return vector, UsedRegion(Region(x, y, width, height).validated(), _SOURCE_OF[code])


def _as_bytes(raw: bytes | str) -> bytes:
    # The client is built with decode_responses=False, so values arrive as bytes.
    return raw if isinstance(raw, bytes) else raw.encode()
