"""Products, their validation, and how they are stored beside their vectors."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from vrs.catalog.ids import normalize_product_id, shown
from vrs.catalog.vectors import Vector
from vrs.errors import InvalidProduct
from vrs.limits import (
    CURRENCY_LETTERS,
    MAX_BRAND_BYTES,
    MAX_CATEGORY_BYTES,
    MAX_IMAGE_URI_BYTES,
    MAX_TITLE_BYTES,
)

_TEXT_LIMITS = (
    ("title", MAX_TITLE_BYTES),
    ("category", MAX_CATEGORY_BYTES),
    ("brand", MAX_BRAND_BYTES),
    ("image_uri", MAX_IMAGE_URI_BYTES),
)

# Stream positions of the catalog events that last set each attribute ("upsert": the last full
# upsert, which also set the image). Empty for products never written by an event.
Versions = dict[str, int]
PATCHABLE = ("title", "category", "brand", "price", "currency", "in_stock")


def _clip(value: str, max_bytes: int) -> str:
    # "replace": a lone surrogate in an old payload must not fail the whole response.
    return value.encode(errors="replace")[:max_bytes].decode(errors="ignore")


def _text_size(value: str, what: str) -> int:
    try:
        return len(value.encode())
    except UnicodeEncodeError as exc:
        raise InvalidProduct(f"{what} is not valid Unicode text: {exc.reason}") from exc


@dataclass(frozen=True)
class Product:
    """A catalog product's attributes."""

    product_id: str
    title: str = ""
    category: str = ""
    brand: str = ""
    price: float | None = None
    currency: str = ""
    in_stock: bool = True
    image_uri: str = ""

    def within_limits(self) -> Product:
        """This product with attributes stored before the size limits cut to fit them, so a
        response built from it stays bounded (a cut URI is dropped: half a URI is wrong)."""
        uri = _clip(self.image_uri, MAX_IMAGE_URI_BYTES)
        return replace(
            self,
            title=_clip(self.title, MAX_TITLE_BYTES),
            category=_clip(self.category, MAX_CATEGORY_BYTES),
            brand=_clip(self.brand, MAX_BRAND_BYTES),
            currency=_clip(self.currency, CURRENCY_LETTERS),
            image_uri=uri if uri == self.image_uri else "",
        )

    def validated(self) -> Product:
        """This product, normalised; raises InvalidProduct naming the first problem."""
        pid = normalize_product_id(self.product_id)
        if self.price is not None and (not math.isfinite(self.price) or self.price < 0):
            raise InvalidProduct(f"product {pid!r}: price {self.price} is not a finite number >= 0")
        for name, limit in _TEXT_LIMITS:
            size = _text_size(getattr(self, name), f"product {pid!r}: {name}")
            if size > limit:
                raise InvalidProduct(
                    f"product {pid!r}: {name} is {size} bytes in UTF-8, at most {limit}"
                )
        currency = self.currency.strip()
        if currency and not (
            len(currency) == CURRENCY_LETTERS and currency.isascii() and currency.isalpha()
        ):
            raise InvalidProduct(
                f"product {pid!r}: currency {shown(currency)} is not a 3-letter ISO 4217 code"
            )
        return replace(self, product_id=pid, currency=currency.upper())


@dataclass(frozen=True)
class ProductPatch:
    """Attribute changes of one product; unset fields keep their value."""

    product_id: str
    title: str | None = None
    category: str | None = None
    brand: str | None = None
    price: float | None = None
    currency: str | None = None
    in_stock: bool | None = None
    versions: Versions = field(default_factory=dict)

    def changes(self) -> dict[str, Any]:
        return {n: getattr(self, n) for n in PATCHABLE if getattr(self, n) is not None}

    def apply(self, product: Product) -> Product:
        return replace(product, **self.changes()).validated()


@dataclass(frozen=True)
class StoredProduct:
    """A product as the store holds it: attributes plus provenance of its vector."""

    product: Product
    model_id: str
    image_sha256: str = ""
    vector_sha256: str = ""
    updated_at: str = ""
    versions: Versions = field(default_factory=dict)
    vector: Vector | None = field(default=None, compare=False, repr=False)

    def to_payload(self) -> dict[str, Any]:
        payload = asdict(self.product)
        payload.update(
            model_id=self.model_id,
            image_sha256=self.image_sha256,
            vector_sha256=self.vector_sha256,
            updated_at=self.updated_at,
            # Strings: versions need 61 bits, and JSON numbers in Qdrant may become doubles.
            versions={name: str(v) for name, v in self.versions.items()},
        )
        return payload

    @classmethod
    def from_payload(cls, payload: dict[str, Any], vector: Vector | None = None) -> StoredProduct:
        price = payload.get("price")
        product = Product(
            product_id=str(payload.get("product_id", "")),
            title=str(payload.get("title", "")),
            category=str(payload.get("category", "")),
            brand=str(payload.get("brand", "")),
            price=None if price is None else float(price),
            currency=str(payload.get("currency", "")),
            in_stock=bool(payload.get("in_stock", True)),
            image_uri=str(payload.get("image_uri", "")),
        )
        return cls(
            product=product,
            model_id=str(payload.get("model_id", "")),
            image_sha256=str(payload.get("image_sha256", "")),
            vector_sha256=str(payload.get("vector_sha256", "")),
            updated_at=str(payload.get("updated_at", "")),
            versions={str(k): int(v) for k, v in (payload.get("versions") or {}).items()},
            vector=vector,
        )
