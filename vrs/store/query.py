"""What a nearest-neighbour search asks of the store, as one value."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from vrs.catalog.products import StoredProduct
from vrs.catalog.vectors import Vector
from vrs.store.filters import ProductFilter


@dataclass(frozen=True)
class SearchRequest:
    """The k products nearest a query vector, or a stored product's vector, that pass a filter.

    `near` as a product id: the query is that product's stored vector (the caller's filter
    decides whether the product itself may come back). `exact` None: exact when the filtered
    set is small (see AsyncStore.search), else the HNSW index.
    """

    near: Vector | str
    k: int
    filter: ProductFilter = field(default_factory=ProductFilter)
    max_distance: float | None = None
    exact: bool | None = None
    hnsw_ef: int | None = None

    @property
    def vector(self) -> Vector:
        """The query vector; a request near a product id has none until it is resolved."""
        if isinstance(self.near, str):
            raise TypeError(f"search near product {self.near!r} has no vector yet")
        return self.near

    def resolved(self, vector: Vector, exact: bool) -> SearchRequest:
        """This request around `vector`, in a decided mode: what a store adapter runs."""
        return replace(self, near=vector, exact=exact)


@dataclass(frozen=True)
class Hit:
    """A stored product a search found, and its Euclidean distance to the query."""

    stored: StoredProduct
    distance: float


@dataclass(frozen=True)
class SearchOutcome:
    """What a search found, and whether it scanned exactly or walked the index."""

    hits: list[Hit]
    exact: bool
