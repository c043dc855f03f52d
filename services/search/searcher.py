"""Similar products for a photo or a catalog product, within a filter.

Flow of a query: validate -> cached result? -> (single-flight) embedding (cached, else the
embedder) -> nearest neighbours in Qdrant (exact when the filtered set is small) -> cache.
A hit costs one Redis round trip and no store call: the server's model id is kept for
`model_refresh_s` (the period at which a store reading through an alias re-resolves it).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

from services.search.budget import cheaper_than, has_budget, over_budget_band, over_by, resolve
from services.search.cache import SearchCache
from services.search.query_embedder import QueryEmbedder
from services.search.results import (
    Answer,
    ImageQuery,
    Match,
    ProductQuery,
    SearchOptions,
    SearchResult,
    decoded,
)
from services.search.singleflight import SingleFlight
from vrs.catalog.ids import normalize_product_id
from vrs.catalog.money import FxRates
from vrs.catalog.products import Product
from vrs.catalog.vectors import Vector
from vrs.errors import InvalidInput, ModelMismatch, NotFound, VrsError
from vrs.evaluation.calibration import Calibration
from vrs.images.region import Region, UsedRegion
from vrs.images.source import ImageFetcher, sha256_hex
from vrs.item_failure import as_item_error
from vrs.observability import tracing
from vrs.observability.metrics.search import SearchMetrics
from vrs.settings import SearchSettings
from vrs.store.async_store import AsyncStore
from vrs.store.model_stores import ModelStores
from vrs.store.query import Collapse, Hit, SearchRequest

log = logging.getLogger(__name__)
_tracer = tracing.tracer()

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
        stores: ModelStores | None = None,
        metrics: SearchMetrics | None = None,
        model_refresh_s: float = 5.0,
        rates: FxRates | None = None,
    ) -> None:
        # Exchange rates (VRS_FX_RATES_FILE): budgets reach other currencies' prices.
        self._rates = rates
        self._metrics = metrics or SearchMetrics()
        self._embedder = embedder
        # Collections of other models (imported vectors): SearchByProduct(model_id=...).
        self._stores = stores
        self._fetcher = fetcher
        self._store = store
        self._cache = cache
        self._settings = settings
        self._flights: SingleFlight[SearchResult] = SingleFlight()
        self._model_refresh_s = model_refresh_s
        # (model id, when the store said so): see _own_model.
        self._own: tuple[str, float] | None = None

    @property
    def cache(self) -> SearchCache | None:
        return self._cache

    async def by_image(self, query: ImageQuery) -> SearchResult:
        return decoded(await self.answer(query))

    async def by_product(self, query: ProductQuery) -> SearchResult:
        return decoded(await self.answer(query))

    async def answer(self, query: Query) -> Answer:
        """The query's result; a cache hit comes as the cache encoded it, for edges that can
        send it as is."""
        if isinstance(query, ImageQuery):
            return await self._by_image(query)
        return await self._by_product(query)

    async def _by_image(self, query: ImageQuery) -> Answer:
        options = self._checked(query.options)
        if query.model_id:
            await self._check_embedder_runs(query.model_id)
        store, model_id = await self._store_for(query.model_id)
        data = await self._fetcher.load(query.image)
        sha = sha256_hex(data)
        region = query.region

        async def compute() -> SearchResult:
            vector, used = await self._query_vector(data, sha, region, model_id)
            request = self._request(vector, options)
            result = await self._within_budget(store, request, options)
            return replace(result, model_id=model_id, region=used)

        # The part of the photo is part of the query: "auto" is the server's own choice.
        where = "auto" if region is None else region.key()
        return await self._cached(f"image:{sha}|region={where}", options, model_id, compute)

    async def _by_product(self, query: ProductQuery) -> Answer:
        product_id = normalize_product_id(query.product_id)
        # Never the product itself.
        options = self._checked(query.options, exclude_product_ids=(product_id,))
        store, model_id = await self._store_for(query.model_id)

        async def compute() -> SearchResult:
            # The product's photos, the size of the filtered set and the search: one hop (a
            # second for its price when cheaper, a third for a budget's currencies). The
            # request is made here, on a miss: a hit needs only the options' cache key.
            request = self._request(product_id, options, query.include_variants)
            try:
                asked = options
                if query.cheaper:
                    asked = replace(
                        options,
                        filter=cheaper_than(await self._product(store, product_id), options.filter),
                    )
                found = await self._within_budget(
                    store, replace(request, filter=asked.filter), asked
                )
            except NotFound as exc:
                if not query.model_id:
                    raise
                raise NotFound(f"{exc} of model {model_id!r}") from exc
            return replace(found, model_id=model_id)

        # Only when set: the keys of default product queries stay as they were.
        variants = "|variants" if query.include_variants else ""
        cheaper = "|cheaper" if query.cheaper else ""
        return await self._cached(
            f"product:{product_id}{variants}{cheaper}", options, model_id, compute
        )

    async def _product(self, store: AsyncStore, product_id: str) -> Product:
        stored = (await store.get([product_id])).get(product_id)
        if stored is None:
            raise NotFound(f"product {product_id!r} is not in the catalog")
        return stored.product

    async def _within_budget(
        self, store: AsyncStore, request: SearchRequest, options: SearchOptions
    ) -> SearchResult:
        """The request's matches (its price bounds in the catalog's currencies) and, when fewer
        than k fit its maximum, the nearest a little over it; labelled when the collection has
        a calibration."""
        flt = request.filter
        if has_budget(flt):
            flt = resolve(flt, await store.currencies(), self._rates)
            request = replace(request, filter=flt)
        hits = await self._search(store, request)
        over: list[Hit] = []
        band = over_budget_band(flt, self._settings.over_budget_max_fraction)
        if options.over_budget and band is not None and len(hits) < request.k:
            over = await self._search(store, replace(request, filter=band, k=request.k - len(hits)))
        # Re-read at most every model_refresh_s; a new one also bumps the generation, so no
        # result cached before it is served.
        calibration = await store.calibration(max_age_s=self._model_refresh_s)
        return SearchResult(
            matches=_matches(hits, calibration),
            model_id="",
            over_budget=tuple(
                replace(m, over_by=over_by(m.product, flt)) for m in _matches(over, calibration)
            ),
        )

    def _request(
        self, near: Vector | str, options: SearchOptions, include_variants: bool = False
    ) -> SearchRequest:
        return SearchRequest(
            near,
            options.k if options.k is not None else self._settings.default_k,
            options.filter,
            options.max_distance,
            options.exact,
            self._settings.hnsw_ef,
            options.collapse,
            include_variants,
        )

    async def _search(self, store: AsyncStore, request: SearchRequest) -> list[Hit]:
        with _tracer.start_as_current_span("search.store") as span:
            started = time.perf_counter()
            outcome = await store.search(request, self._settings.exact_threshold)
            self._metrics.searched(
                "exact" if outcome.exact else "hnsw",
                time.perf_counter() - started,
                len(outcome.hits),
            )
            span.set_attributes({"exact": outcome.exact, "matches": len(outcome.hits)})
        return outcome.hits

    async def _store_for(self, model_id: str) -> tuple[AsyncStore, str]:
        """The store holding `model_id`'s vectors ("": the server's own), and its model id."""
        own = await self._own_model()
        if not model_id or model_id == own:
            return self._store, own
        if self._stores is None:
            raise NotFound(f"no collection of model {model_id!r} on this server")
        return await self._stores.for_reading(model_id), model_id

    async def _own_model(self) -> str:
        """The server's model id, asking the store at most every model_refresh_s: an alias
        switch is followed within that period, as the store itself re-resolves its alias."""
        now = time.monotonic()
        if self._own is None or now - self._own[1] >= self._model_refresh_s:
            self._own = (await self._store.model_id(), now)
        return self._own[0]

    async def _check_embedder_runs(self, model_id: str) -> None:
        running = await self._embedder.model_id()
        if model_id != running:
            raise ModelMismatch(
                f"no embedder runs model {model_id!r} (the embedder runs {running!r}): image "
                f"queries need one; search model {model_id!r}'s collection by product instead"
            )

    async def batch(self, queries: Sequence[Query | VrsError]) -> list[Answer | VrsError]:
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
            o if not isinstance(o, BaseException) else as_item_error(o, f"query {i} of the batch")
            for i, o in enumerate(outcomes)
        ]

    async def _one(self, query: Query | VrsError) -> Answer:
        if isinstance(query, VrsError):
            raise query
        return await self.answer(query)

    def _checked(
        self, options: SearchOptions, exclude_product_ids: tuple[str, ...] = ()
    ) -> SearchOptions:
        """`options` validated, with k and the filter in their one form (and, when given,
        these products left out)."""
        k = self._settings.default_k if options.k is None else options.k
        if not 1 <= k <= self._settings.max_k:
            raise InvalidInput(f"k must be between 1 and {self._settings.max_k}, got {k}")
        distance = options.max_distance
        if distance is not None and (not math.isfinite(distance) or distance < 0):
            raise InvalidInput(f"max_distance must be a finite number >= 0, got {distance}")
        flt = options.filter.validated()
        if exclude_product_ids:
            flt = flt.excluding(exclude_product_ids)
        if k == options.k and flt is options.filter:
            return options
        return replace(options, k=k, filter=flt)

    async def _cached(
        self,
        query_key: str,
        options: SearchOptions,
        model_id: str,
        compute: Callable[[], Awaitable[SearchResult]],
    ) -> Answer:
        # A forced search mode, and collapsing by group, join the identity only when set:
        # default keys stay as they were.
        mode = "" if options.exact is None else f"|exact={options.exact}"
        if options.collapse is not Collapse.PRODUCT:
            mode += f"|collapse={options.collapse.value}"
        if not options.over_budget:
            mode += "|over=0"
        identity = (
            f"{query_key}|k={options.k}|{options.filter.cache_key()}"
            f"|max={options.max_distance!r}{mode}"
        )
        cache = self._cache
        found = None
        if cache is not None:
            with _tracer.start_as_current_span(
                "search.cache", attributes={"kind": "result"}
            ) as span:
                found = await cache.lookup_result(model_id, identity)
                span.set_attribute("hit", found is not None and found[1] is not None)
        if cache is None or found is None:
            # No cache (or Redis unreachable): identical concurrent queries still run once.
            return await self._flights.do(f"{model_id}|{identity}", compute)
        key, hit = found
        if hit is not None:
            return hit

        async def compute_and_store() -> SearchResult:
            result = await compute()
            await cache.put_result(key, result)
            return result

        return await self._flights.do(key, compute_and_store)

    async def _query_vector(
        self, data: bytes, sha: str, region: Region | None, model_id: str
    ) -> tuple[Vector, UsedRegion]:
        if self._cache is not None:
            with _tracer.start_as_current_span("search.cache", attributes={"kind": "embedding"}):
                cached = await self._cache.get_embedding(model_id, sha, region)
            if cached is not None:
                return cached
        # The embedder's own spans (across the gRPC hop) are children of this one.
        with _tracer.start_as_current_span("search.embed"):
            started = time.perf_counter()
            query = await self._embedder.embed(data, region)
            self._metrics.embedder_call.observe(time.perf_counter() - started)
        if query.model_id != model_id:
            raise ModelMismatch(
                f"the embedder runs model {query.model_id!r} but the collection holds vectors "
                f"of model {model_id!r}: point the search service at the matching embedder"
            )
        if self._cache is not None:
            await self._cache.put_embedding(model_id, sha, region, query.vector, query.region)
        return query.vector, query.region


def _matches(hits: Sequence[Hit], calibration: Calibration | None) -> tuple[Match, ...]:
    return tuple(
        Match(
            h.stored.product,
            h.distance,
            h.stored.photo_index,
            tuple(v.product for v in h.variants),
            label=None if calibration is None else calibration.label(h.distance),
        )
        for h in hits
    )
