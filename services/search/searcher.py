"""Similar products for a photo or a catalog product, within a filter.

Flow of a query: validate -> cached result? -> (single-flight) embedding (cached, else the
embedder) -> nearest neighbours in Qdrant (exact when the filtered set is small) -> cache.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

from services.search.cache import SearchCache
from services.search.query_embedder import QueryEmbedder
from services.search.results import ImageQuery, Match, ProductQuery, SearchOptions, SearchResult
from services.search.singleflight import SingleFlight
from vrs.catalog import Vector, normalize_product_id
from vrs.errors import InvalidInput, ModelMismatch, NotFound, VrsError
from vrs.image_source import ImageFetcher, sha256_hex
from vrs.item_failure import as_item_error
from vrs.settings import SearchSettings
from vrs.store.async_store import AsyncStore
from vrs.store.filters import ProductFilter

log = logging.getLogger(__name__)

Query = ImageQuery | ProductQuery


class Searcher:
    """Answers shoppers' queries: the products nearest a photo or a product, within a filter."""

    def __init__(
        self,
        embedder: QueryEmbedder,
        fetcher: ImageFetcher,
        store: AsyncStore,
        cache: SearchCache | None,
        settings: SearchSettings,
    ) -> None:
        self._embedder = embedder
        self._fetcher = fetcher
        self._store = store
        self._cache = cache
        self._settings = settings
        self._flights: SingleFlight[SearchResult] = SingleFlight()

    @property
    def cache(self) -> SearchCache | None:
        return self._cache

    async def by_image(self, query: ImageQuery) -> SearchResult:
        k, flt, max_distance = self._checked(query.options)
        data = await self._fetcher.load(query.image)
        sha = sha256_hex(data)
        model_id = await self._store.model_id()

        async def compute() -> SearchResult:
            vector = await self._query_vector(data, sha, model_id)
            return await self._nearest(vector, k, flt, max_distance, model_id)

        return await self._cached(f"image:{sha}", k, flt, max_distance, model_id, compute)

    async def by_product(self, query: ProductQuery) -> SearchResult:
        query = replace(query, product_id=normalize_product_id(query.product_id))
        k, flt, max_distance = self._checked(query.options)
        flt = replace(flt, exclude_product_ids=(query.product_id,))
        model_id = await self._store.model_id()

        async def compute() -> SearchResult:
            found = await self._store.get([query.product_id], with_vectors=True)
            stored = found.get(query.product_id)
            if stored is None or stored.vector is None:
                raise NotFound(f"product {query.product_id!r} is not in the catalog")
            return await self._nearest(stored.vector, k, flt, max_distance, model_id)

        return await self._cached(
            f"product:{query.product_id}", k, flt, max_distance, model_id, compute
        )

    async def batch(self, queries: Sequence[Query | VrsError]) -> list[SearchResult | VrsError]:
        """One result or error per query; a bad query fails alone, even with a bug.

        A query the edge could not convert comes in as its error and goes out unchanged.
        """
        if not queries:
            raise InvalidInput("no queries in the batch")
        if len(queries) > self._settings.max_batch_queries:
            raise InvalidInput(
                f"{len(queries)} queries in one batch, at most {self._settings.max_batch_queries}"
            )
        outcomes = await asyncio.gather(*(self._one(q) for q in queries), return_exceptions=True)
        return [
            o if isinstance(o, SearchResult) else as_item_error(o, f"query {i} of the batch")
            for i, o in enumerate(outcomes)
        ]

    async def _one(self, query: Query | VrsError) -> SearchResult:
        if isinstance(query, VrsError):
            raise query
        return await (
            self.by_image(query) if isinstance(query, ImageQuery) else self.by_product(query)
        )

    def _checked(self, options: SearchOptions) -> tuple[int, ProductFilter, float | None]:
        k = self._settings.default_k if options.k is None else options.k
        if not 1 <= k <= self._settings.max_k:
            raise InvalidInput(f"k must be between 1 and {self._settings.max_k}, got {k}")
        distance = options.max_distance
        if distance is not None and (not math.isfinite(distance) or distance < 0):
            raise InvalidInput(f"max_distance must be a finite number >= 0, got {distance}")
        return k, options.filter.validated(), distance

    async def _cached(
        self,
        query_key: str,
        k: int,
        flt: ProductFilter,
        max_distance: float | None,
        model_id: str,
        compute: Callable[[], Awaitable[SearchResult]],
    ) -> SearchResult:
        identity = f"{query_key}|k={k}|{flt.cache_key()}|max={max_distance!r}"
        cache = self._cache
        generation = await cache.generation.current() if cache else None
        if cache is None or generation is None:
            # No cache (or Redis unreachable): identical concurrent queries still run once.
            return await self._flights.do(f"{model_id}|{identity}", compute)
        key = cache.result_key(model_id, generation, identity)
        hit = await cache.get_result(key)
        if hit is not None:
            return hit

        async def compute_and_store() -> SearchResult:
            result = await compute()
            await cache.put_result(key, result)
            return result

        return await self._flights.do(key, compute_and_store)

    async def _query_vector(self, data: bytes, sha: str, model_id: str) -> Vector:
        if self._cache is not None:
            cached = await self._cache.get_embedding(model_id, sha)
            if cached is not None:
                return cached
        vector, vector_model = await self._embedder.embed(data)
        if vector_model != model_id:
            raise ModelMismatch(
                f"the embedder runs model {vector_model!r} but the collection holds vectors of "
                f"model {model_id!r}: point the search service at the matching embedder"
            )
        if self._cache is not None:
            await self._cache.put_embedding(model_id, sha, vector)
        return vector

    async def _nearest(
        self, vector: Vector, k: int, flt: ProductFilter, max_distance: float | None, model_id: str
    ) -> SearchResult:
        # HNSW loses recall when a filter leaves few candidates; below the threshold an exact
        # scan of the filtered set is both correct and cheap (payload indexes find the set).
        candidates = await self._store.count(flt)
        exact = candidates <= self._settings.exact_threshold
        hits = await self._store.search(vector, k, flt, max_distance, exact, self._settings.hnsw_ef)
        return SearchResult(
            matches=tuple(Match(h.stored.product, h.distance) for h in hits), model_id=model_id
        )
