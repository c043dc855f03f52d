"""What the catalog writer takes in and gives back, item by item."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from vrs.catalog.products import Product, StoredProduct, Versions
from vrs.catalog.vectors import Vector
from vrs.errors import VrsError
from vrs.images.source import ImageInput
from vrs.item_failure import as_item_error

# Stored products by id, as a caller read them; ids absent from it are not in the store.
Known = Mapping[str, StoredProduct]
# Given the products about to be written, those that must not be, with why (the events
# applier: products whose lock was lost while their images were fetched and embedded).
WriteGate = Callable[[Sequence[str]], Awaitable[Mapping[str, VrsError]]]


class Outcome(Enum):
    """What became of one item of a write."""

    UPSERTED = "upserted"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    FAILED = "failed"


CHANGES = (Outcome.UPDATED, Outcome.UPSERTED)


@dataclass(frozen=True)
class UpsertItem:
    """One product to insert or replace: its attributes and an image or a vector."""

    product: Product
    image: ImageInput | None = None
    vector: Sequence[float] | None = None
    vector_model_id: str = ""
    # Event versions to store with the product (None: keep the stored ones). Ordering is the
    # events applier's business; the writer only records them.
    versions: Versions | None = None


@dataclass(frozen=True)
class ItemResult:
    """The outcome of one item, with its error when it failed."""

    product_id: str
    outcome: Outcome
    error: VrsError | None = None


@dataclass(frozen=True)
class LoadedItem:
    """An upsert item validated, with its image bytes fetched or its vector checked."""

    index: int
    item: UpsertItem
    product: Product
    data: bytes | None = None
    vector: Vector | None = None
    image_sha256: str = ""
    vector_sha256: str = ""

    @property
    def product_id(self) -> str:
        return self.product.product_id


def failed(product_id: str, error: BaseException) -> ItemResult:
    """A failed item; a bug in one item (logged, INTERNAL) fails that item alone."""
    return ItemResult(product_id, Outcome.FAILED, as_item_error(error, f"product {product_id!r}"))
