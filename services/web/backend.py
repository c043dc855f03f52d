"""What the gateway asks of the search and embedder services, in domain terms.

Two implementations: the services of this very process (no network hop), or remote ones over
gRPC. The routes speak only this interface, so both modes share one code path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from services.search.results import ImageQuery, ProductQuery, SearchResult
from vrs.catalog.products import Product


@dataclass(frozen=True)
class CatalogProduct:
    """A stored product (its attributes cut to the limits) and its photos' URIs, in order."""

    product: Product
    photo_uris: tuple[str, ...]


@dataclass(frozen=True)
class CatalogSummary:
    """The catalog's size and model, and the filter values known to the gateway (currencies:
    those its prices are in, for the budget's)."""

    points: int
    model_id: str
    categories: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    currencies: tuple[str, ...] = ()


class SearchBackend(Protocol):
    """Domain calls of the gateway; errors are vrs.errors (mapped to HTTP in one place)."""

    async def by_image(self, query: ImageQuery) -> SearchResult: ...

    async def by_product(self, query: ProductQuery) -> SearchResult: ...

    async def product(self, product_id: str) -> CatalogProduct:
        """The stored product and its photos; NotFound when the catalog has none with this id."""
        ...

    async def catalog(self) -> CatalogSummary: ...

    async def check_ready(self) -> None:
        """Returns when the services behind the gateway answer; Unavailable otherwise."""
        ...

    async def close(self) -> None: ...
