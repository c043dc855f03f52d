"""The store interface both adapters implement, and the shapes it speaks in."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from vrs.catalog.products import StoredProduct
from vrs.catalog.vectors import Vector, checked_vector
from vrs.errors import InvalidInput, ModelMismatch
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
    """A collection of product vectors under Euclidean distance, for one model.

    Methods block; async code goes through vrs.store.async_store.AsyncStore, whose methods are
    these, awaitable, run off the event loop with a deadline each.
    """

    @property
    def model_id(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def upsert(self, items: Sequence[StoredProduct]) -> None:
        """Write points; each item's vector must be set."""

    def set_attributes(self, items: Sequence[StoredProduct]) -> None:
        """Rewrite payloads of existing points, leaving their vectors alone."""

    def get(
        self, product_ids: Sequence[str], with_vectors: bool = False
    ) -> dict[str, StoredProduct]:
        """The stored products among `product_ids`, by id; unknown ids are absent."""
        ...

    def delete(self, product_ids: Sequence[str]) -> None: ...

    def search(self, request: SearchRequest) -> list[Hit]:
        """The request's k nearest products by ascending distance; its `near` is a vector
        (resolved: see AsyncStore.search), its `exact` None means the index."""
        ...

    def count(self, flt: ProductFilter) -> int: ...

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


def check_write(store: VectorStore, item: StoredProduct) -> Vector:
    """The item's vector, after checking it belongs in this store."""
    if item.model_id != store.model_id:
        raise ModelMismatch(
            f"product {item.product.product_id!r}: vector of model {item.model_id!r} cannot go "
            f"into the collection of model {store.model_id!r}"
        )
    return checked_vector(item.vector, store.dimension, f"vector of {item.product.product_id!r}")
