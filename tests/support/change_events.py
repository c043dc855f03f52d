"""Catalog changes of one product at explicit stream positions, as the applier receives them."""

from __future__ import annotations

from functools import cache

from services.embedder.events.applier import PendingChange
from tests.support.images import product_jpeg
from vrs.catalog.products import Product, ProductPatch
from vrs.events.schema import Delete, Update, Upsert, stream_version
from vrs.images.source import ImageInput, sha256_hex

PRODUCT_ID = "p"
CATEGORY = "shirt"


@cache
def photo(seed: int) -> bytes:
    """Photo number `seed` of the product (the same seed gives the same bytes)."""
    return product_jpeg(CATEGORY, seed)


def photo_sha256(seed: int) -> str:
    return sha256_hex(photo(seed))


def _pending(position: int, change: Upsert | Update | Delete) -> PendingChange:
    # A real entry id, so versions are computed as the consumer computes them.
    entry_id = f"{position}-0"
    return PendingChange(entry_id, stream_version(entry_id), change)


def upsert_at(position: int, price: float, photo_seed: int = 0) -> PendingChange:
    """The full product as stream entry `position` sets it: titled after its position."""
    product = Product(PRODUCT_ID, title=f"upsert {position}", category=CATEGORY, price=price)
    return _pending(position, Upsert(product, (ImageInput(data=photo(photo_seed)),)))


def update_at(
    position: int, price: float | None = None, in_stock: bool | None = None
) -> PendingChange:
    return _pending(position, Update(ProductPatch(PRODUCT_ID, price=price, in_stock=in_stock)))


def delete_at(position: int) -> PendingChange:
    return _pending(position, Delete(PRODUCT_ID))
