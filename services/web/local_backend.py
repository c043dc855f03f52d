"""The gateway's backend in the all-in-one process: the search service's own searcher and
store, called directly (no network hop)."""

from __future__ import annotations

import time

import numpy as np

from services.search.results import ImageQuery, ProductQuery, SearchResult
from services.search.searcher import Searcher
from services.web.backend import CatalogProduct, CatalogSummary
from vrs.catalog.ids import normalize_product_id
from vrs.catalog.products import uri_within_limits
from vrs.errors import NotFound
from vrs.store.async_store import AsyncStore
from vrs.store.query import SearchRequest

# Filter values are gathered from the products nearest the origin: a bounded, exact scan that
# sees the whole of a small catalog (and a sample of a large one), refreshed once a minute.
FACET_SAMPLE = 1000
FACETS_TTL_S = 60.0

# The categories, brands and currencies of the products seen.
Facets = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]


class LocalBackend:
    """Calls the search service of this process."""

    def __init__(self, searcher: Searcher, store: AsyncStore) -> None:
        self._searcher = searcher
        self._store = store
        # When gathered, and the categories, brands and currencies seen.
        self._facets: tuple[float, Facets] | None = None

    async def by_image(self, query: ImageQuery) -> SearchResult:
        return await self._searcher.by_image(query)

    async def by_product(self, query: ProductQuery) -> SearchResult:
        return await self._searcher.by_product(query)

    async def product(self, product_id: str) -> CatalogProduct:
        product_id = normalize_product_id(product_id)
        stored = (await self._store.get([product_id])).get(product_id)
        if stored is None:
            raise NotFound(f"product {product_id!r} is not in the catalog")
        uris = tuple(uri_within_limits(p.image_uri) for p in stored.photos)
        return CatalogProduct(stored.product.within_limits(), uris)

    async def catalog(self) -> CatalogSummary:
        info = await self._store.info()
        categories, brands, currencies = await self._known_facets(info.dimension)
        return CatalogSummary(info.points, info.model_id, categories, brands, currencies)

    async def check_ready(self) -> None:
        await self._store.info()

    async def close(self) -> None:
        """The searcher and the store belong to the search service."""

    async def _known_facets(self, dimension: int) -> Facets:
        now = time.monotonic()
        if self._facets is not None and now - self._facets[0] < FACETS_TTL_S:
            return self._facets[1]
        sample = SearchRequest(np.zeros(dimension, dtype=np.float32), FACET_SAMPLE, exact=True)
        found = await self._store.search(sample, exact_threshold=0)
        products = [h.stored.product.within_limits() for h in found.hits]
        facets = (
            tuple(sorted({p.category for p in products if p.category})),
            tuple(sorted({p.brand for p in products if p.brand})),
            tuple(sorted({p.currency for p in products if p.currency})),
        )
        self._facets = (now, facets)
        return facets
