"""The store interface both adapters implement, and the shapes it speaks in."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from vrs.catalog.products import StoredProduct
from vrs.catalog.vectors import Vector, checked_vector
from vrs.errors import InvalidInput, ModelMismatch
from vrs.evaluation.calibration import Calibration
from vrs.store.filters import ProductFilter
from vrs.store.query import Hit, SearchRequest

_MODEL_ID_SEP = "__"


@dataclass(frozen=True)
class StoreInfo:
    """What a collection holds and how much of it is indexed."""

    kind: str
    collection: str
    model_id: str
    dimension: int
    points: int
    indexed_vectors: int

    @property
    def index_state(self) -> str:
        if self.points == 0:
            return "empty"
        if self.indexed_vectors >= self.points:
            return f"hnsw: all {self.points} vectors indexed"
        return f"hnsw: {self.indexed_vectors}/{self.points} vectors indexed (rest brute force)"


class VectorStore(Protocol):
    """A collection of product vectors under Euclidean distance, for one model: one point per
    photo of a product, each carrying the product's attributes.

    Methods block; async code goes through vrs.store.async_store.AsyncStore, whose methods are
    these, awaitable, run off the event loop with a deadline each.
    """

    @property
    def model_id(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def upsert(self, items: Sequence[StoredProduct]) -> None:
        """Write each item's photos as points; every photo's vector must be set. Photos the
        product had before and does not list are left: delete_points removes them."""

    def delete_points(self, point_ids: Sequence[str]) -> None:
        """Remove these photos' points (StoredPhoto.point_id)."""

    def set_attributes(self, items: Sequence[StoredProduct]) -> None:
        """Rewrite the product attributes on every photo of each item, leaving the photos'
        own fields and vectors alone."""

    def get(
        self, product_ids: Sequence[str], with_vectors: bool = False
    ) -> dict[str, StoredProduct]:
        """The stored products among `product_ids`, by id, with all their photos in order;
        unknown ids are absent."""
        ...

    def delete(self, product_ids: Sequence[str]) -> None:
        """Remove every photo of these products."""

    def search(self, request: SearchRequest) -> list[Hit]:
        """The request's k nearest distinct products (or variant groups) by ascending
        distance, each with its best-matching photo; its `near` is one or more vectors
        (resolved: see AsyncStore.search), its `exact` None means the index."""
        ...

    def variants(
        self, near: Vector, group_keys: Sequence[str], flt: ProductFilter, per_group: int
    ) -> dict[str, list[Hit]]:
        """For each variant group, its products that pass `flt` (their first photos), nearest
        `near` first, at most `per_group`."""
        ...

    def count(self, flt: ProductFilter) -> int: ...

    def currencies(self) -> tuple[str, ...]:
        """The currencies the catalog's prices are in (non-empty `currency` values), sorted."""
        ...

    def calibration(self) -> Calibration | None:
        """The calibration kept with the collection (`vrs calibrate`); None: none yet."""
        ...

    def set_calibration(self, calibration: Calibration) -> None:
        """Keep `calibration` with the collection, replacing any earlier one."""

    def info(self) -> StoreInfo: ...

    def optimize(self) -> bool:
        """Build or refresh the vector index; True when anything was rebuilt."""
        ...

    def close(self) -> None: ...


def collection_name(prefix: str, model_id: str) -> str:
    """One collection per model: vectors of different models never mix."""
    return f"{prefix}{_MODEL_ID_SEP}{model_id}"


def model_id_of(collection: str) -> str:
    if _MODEL_ID_SEP not in collection:
        raise ModelMismatch(f"collection {collection!r} is not named <prefix>__<model id>")
    return collection.split(_MODEL_ID_SEP, 1)[1]


_SAFE = re.compile(r"^[A-Za-z0-9_.@+-]+$")


def check_model_id(model_id: str) -> str:
    """`model_id`, or InvalidInput when it could not name a collection (a caller's mistake)."""
    if not _SAFE.match(model_id):
        raise InvalidInput(
            f"model id {model_id[:80]!r} has characters not allowed in model ids "
            "(letters, digits and _ . @ + - only)"
        )
    return model_id


def checked_points(
    store: VectorStore, item: StoredProduct
) -> list[tuple[str, Vector, dict[str, object]]]:
    """The item's points (id, vector, payload), after checking they belong in this store."""
    pid = item.product.product_id
    if item.model_id != store.model_id:
        raise ModelMismatch(
            f"product {pid!r}: vector of model {item.model_id!r} cannot go into the collection "
            f"of model {store.model_id!r}"
        )
    return [
        (point, checked_vector(vector, store.dimension, f"vector of {pid!r}"), payload)
        for point, vector, payload in item.points()
    ]
