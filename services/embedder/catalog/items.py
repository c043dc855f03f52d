"""What the catalog writer takes in and gives back, item by item."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from vrs.catalog.products import Product, StoredPhoto, StoredProduct, Versions
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
    """One product to insert or replace: its attributes and its photos, as images or as
    vectors (`image`/`vector` for one, `images`/`vectors` for several)."""

    product: Product
    image: ImageInput | None = None
    vector: Sequence[float] | None = None
    vector_model_id: str = ""
    # Event versions to store with the product (None: keep the stored ones). Ordering is the
    # events applier's business; the writer only records them.
    versions: Versions | None = None
    images: tuple[ImageInput, ...] = ()
    vectors: tuple[Sequence[float], ...] = ()
    # Where each photo sent as bytes can be fetched for display (parallel to the images).
    image_uris: tuple[str, ...] = ()

    @property
    def all_images(self) -> tuple[ImageInput, ...]:
        return ((self.image,) if self.image is not None else ()) + self.images

    @property
    def all_vectors(self) -> tuple[Sequence[float], ...]:
        return ((self.vector,) if self.vector is not None else ()) + self.vectors


@dataclass(frozen=True)
class ItemResult:
    """The outcome of one item, with its error when it failed."""

    product_id: str
    outcome: Outcome
    error: VrsError | None = None


@dataclass(frozen=True)
class LoadedPhoto:
    """One photo of an upsert item: its image bytes fetched, or its vector checked."""

    image_uri: str = ""
    data: bytes | None = None
    vector: Vector | None = None
    image_sha256: str = ""
    vector_sha256: str = ""

    def stored(self, vector: Vector | None = None) -> StoredPhoto:
        """The photo as the store holds it, with `vector` (else its own)."""
        return StoredPhoto(
            self.image_uri,
            self.image_sha256,
            self.vector_sha256,
            self.vector if vector is None else vector,
        )


@dataclass(frozen=True)
class LoadedItem:
    """An upsert item validated, with its photos' bytes fetched or their vectors checked
    (distinct photos, in the item's order)."""

    index: int
    item: UpsertItem
    product: Product
    photos: tuple[LoadedPhoto, ...]

    @property
    def product_id(self) -> str:
        return self.product.product_id

    @property
    def photo_keys(self) -> tuple[str, ...]:
        return tuple(p.stored().key for p in self.photos)


def failed(product_id: str, error: BaseException) -> ItemResult:
    """A failed item; a bug in one item (logged, INTERNAL) fails that item alone."""
    return ItemResult(product_id, Outcome.FAILED, as_item_error(error, f"product {product_id!r}"))
