"""Products, their validation, and how they are stored beside their vectors."""

from __future__ import annotations

import math
import uuid
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from vrs.errors import InvalidProduct, InvalidVector

# Fixed namespace: the same product id maps to the same point id in every process and release,
# which is what makes re-ingesting a product overwrite it instead of duplicating it.
_POINT_NAMESPACE = uuid.UUID("5b8e2a3c-61f4-4d1e-9a57-7c0d3f1e2b94")
MAX_PRODUCT_ID_LEN = 256

Vector = npt.NDArray[np.float32]
# Stream positions of the catalog events that last set each attribute ("upsert": the last full
# upsert, which also set the image). Empty for products never written by an event.
Versions = dict[str, int]
PATCHABLE = ("title", "category", "brand", "price", "currency", "in_stock")


def point_id(product_id: str) -> str:
    return str(uuid.uuid5(_POINT_NAMESPACE, product_id))


@dataclass(frozen=True)
class Product:
    product_id: str
    title: str = ""
    category: str = ""
    brand: str = ""
    price: float | None = None
    currency: str = ""
    in_stock: bool = True
    image_uri: str = ""

    def validated(self) -> Product:
        """This product, normalised; raises InvalidProduct naming the first problem."""
        pid = self.product_id.strip()
        if not pid:
            raise InvalidProduct("product_id is missing")
        if len(pid) > MAX_PRODUCT_ID_LEN:
            raise InvalidProduct(f"product_id is longer than {MAX_PRODUCT_ID_LEN} characters")
        if any(ord(c) < 32 for c in pid):
            raise InvalidProduct(f"product_id {pid!r} contains control characters")
        if self.price is not None and (not math.isfinite(self.price) or self.price < 0):
            raise InvalidProduct(f"product {pid!r}: price {self.price} is not a finite number >= 0")
        return replace(self, product_id=pid, currency=self.currency.strip().upper())


@dataclass(frozen=True)
class ProductPatch:
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


def checked_vector(values: Any, dimension: int, what: str = "vector") -> Vector:
    """A float32 copy of `values`, or InvalidVector naming the problem."""
    try:
        vector = np.asarray(values, dtype=np.float32).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise InvalidVector(f"{what} is not a list of numbers: {exc}") from exc
    if vector.shape[0] != dimension:
        raise InvalidVector(f"{what} has dimension {vector.shape[0]}, expected {dimension}")
    if not np.isfinite(vector).all():
        raise InvalidVector(f"{what} contains NaN or infinite values")
    return vector
