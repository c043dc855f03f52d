"""What a nearest-neighbour search asks of the store, as one value."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import Enum

from vrs.catalog.products import StoredProduct
from vrs.catalog.vectors import Vector
from vrs.store.filters import ProductFilter


class Collapse(Enum):
    """What one result stands for: a product (its best photo), or a variant group."""

    PRODUCT = "product"
    GROUP = "group"

    @property
    def key(self) -> str:
        """The payload field results are distinct by."""
        return "product_id" if self is Collapse.PRODUCT else "group_key"


@dataclass(frozen=True)
class SearchRequest:
    """The k products (or variant groups) nearest a query that pass a filter.

    `near`: a vector, several (a product's photos: a result's distance is its best over
    them), or a product id, whose stored photos are the query (the caller's filter decides
    whether the product itself may come back; `include_variants` whether its group may).
    `exact` None: exact when the filtered set is small (see AsyncStore.search), else the HNSW
    index.
    """

    near: Vector | tuple[Vector, ...] | str
    k: int
    filter: ProductFilter = field(default_factory=ProductFilter)
    max_distance: float | None = None
    exact: bool | None = None
    hnsw_ef: int | None = None
    collapse: Collapse = Collapse.PRODUCT
    include_variants: bool = False

    @property
    def vectors(self) -> tuple[Vector, ...]:
        """The query vectors; a request near a product id has none until it is resolved."""
        if isinstance(self.near, str):
            raise TypeError(f"search near product {self.near!r} has no vector yet")
        if isinstance(self.near, tuple):
            return self.near
        return (self.near,)

    @property
    def vector(self) -> Vector:
        """The (first) query vector."""
        return self.vectors[0]

    def resolved(self, vectors: Sequence[Vector], exact: bool) -> SearchRequest:
        """This request around `vectors`, in a decided mode: what a store adapter runs."""
        near = vectors[0] if len(vectors) == 1 else tuple(vectors)
        return replace(self, near=near, exact=exact)


@dataclass(frozen=True)
class Hit:
    """A stored product a search found (with the photo that matched), and its Euclidean
    distance to the query."""

    stored: StoredProduct
    distance: float
    # COLLAPSE_GROUP: the group's other products that pass the filter (first photos).
    variants: tuple[StoredProduct, ...] = ()


@dataclass(frozen=True)
class SearchOutcome:
    """What a search found, and whether it scanned exactly or walked the index."""

    hits: list[Hit]
    exact: bool
