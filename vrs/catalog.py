"""Products, their validation, and how they are stored beside their vectors."""

from __future__ import annotations

import math
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from vrs.errors import InvalidProduct, InvalidVector
from vrs.limits import (
    CURRENCY_LETTERS,
    MAX_BRAND_BYTES,
    MAX_CATEGORY_BYTES,
    MAX_IDS_PER_CALL,
    MAX_IMAGE_URI_BYTES,
    MAX_PRODUCT_ID_BYTES,
    MAX_TITLE_BYTES,
    MAX_VECTOR_NORM,
)

# Fixed namespace: the same product id maps to the same point id in every process and release,
# which is what makes re-ingesting a product overwrite it instead of duplicating it.
_POINT_NAMESPACE = uuid.UUID("5b8e2a3c-61f4-4d1e-9a57-7c0d3f1e2b94")

# Unicode White_Space (PropList.txt): stripped around ids, so " pad-1 " and "pad-1" are one id.
_WHITE_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
# Characters an id may not contain: invisible or direction-changing ones would make two ids
# that look identical differ (or one id display as another), and separators and controls break
# the logs, CSV files and terminals ids travel through.
_REFUSED_IN_IDS = {
    "Cc": "a control character",
    "Cf": "a format character (bidi control, zero-width...)",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
    "Cs": "a surrogate",
    "Co": "a private-use character",
    "Cn": "an unassigned code point",
}
_TEXT_LIMITS = (
    ("title", MAX_TITLE_BYTES),
    ("category", MAX_CATEGORY_BYTES),
    ("brand", MAX_BRAND_BYTES),
    ("image_uri", MAX_IMAGE_URI_BYTES),
)

Vector = npt.NDArray[np.float32]
# Stream positions of the catalog events that last set each attribute ("upsert": the last full
# upsert, which also set the image). Empty for products never written by an event.
Versions = dict[str, int]
PATCHABLE = ("title", "category", "brand", "price", "currency", "in_stock")


def point_id(product_id: str) -> str:
    return str(uuid.uuid5(_POINT_NAMESPACE, product_id))


def normalize_product_id(raw: str) -> str:
    """The one form of a product id every entry point uses; InvalidProduct naming the problem.

    NFC, surrounding Unicode White_Space stripped; refused when empty, longer than
    MAX_PRODUCT_ID_BYTES in UTF-8, or containing a character of a _REFUSED_IN_IDS category.
    """
    pid = unicodedata.normalize("NFC", raw).strip(_WHITE_SPACE)
    if not pid:
        raise InvalidProduct("product_id is missing")
    for position, char in enumerate(pid):
        kind = _REFUSED_IN_IDS.get(unicodedata.category(char))
        if kind is not None:
            name = unicodedata.name(char, "")
            raise InvalidProduct(
                f"product_id {_shown(pid)} contains U+{ord(char):04X}{' ' + name if name else ''}"
                f" at position {position}, {kind}: not allowed in product ids"
            )
    size = len(pid.encode())
    if size > MAX_PRODUCT_ID_BYTES:
        raise InvalidProduct(
            f"product_id {_shown(pid)} is {size} bytes in UTF-8, at most {MAX_PRODUCT_ID_BYTES}"
        )
    return pid


def split_product_ids(raw: Sequence[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """The ids that normalise, in order, and (id as sent, why) for each one that does not:
    one bad id in a list never stops the others. More than MAX_IDS_PER_CALL is refused."""
    if len(raw) > MAX_IDS_PER_CALL:
        raise InvalidProduct(f"{len(raw)} product ids in one call, at most {MAX_IDS_PER_CALL}")
    valid: list[str] = []
    invalid: list[tuple[str, str]] = []
    for value in raw:
        try:
            valid.append(normalize_product_id(value))
        except InvalidProduct as exc:
            invalid.append((value, str(exc)))
    return valid, invalid


def normalize_product_ids(raw: Sequence[str], max_listed: int = 5) -> list[str]:
    """Every id normalised, in order; or one InvalidProduct naming the bad ones (a few: the
    message travels in gRPC trailers, which have a size limit)."""
    ids: list[str] = []
    problems: list[str] = []
    for index, value in enumerate(raw):
        try:
            ids.append(normalize_product_id(value))
        except InvalidProduct as exc:
            problems.append(f"#{index}: {exc}")
    if problems:
        more = len(problems) - max_listed
        listed = "; ".join(problems[:max_listed]) + (f"; and {more} more" if more > 0 else "")
        raise InvalidProduct(f"{len(problems)} of {len(raw)} product ids are invalid: {listed}")
    return ids


def _shown(text: str, limit: int = 40) -> str:
    """A bounded, escaped rendering for messages (repr escapes invisible characters)."""
    return repr(text[:limit]) + ("..." if len(text) > limit else "")


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
                f"product {pid!r}: currency {_shown(currency)} is not a 3-letter ISO 4217 code"
            )
        return replace(self, product_id=pid, currency=currency.upper())


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
    # Checked in float64, so a value beyond float32's range is refused by name, not cast to inf.
    try:
        wide = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidVector(f"{what} is not a list of numbers: {exc}") from exc
    if wide.shape[0] != dimension:
        raise InvalidVector(f"{what} has dimension {wide.shape[0]}, expected {dimension}")
    if not np.isfinite(wide).all():
        raise InvalidVector(f"{what} contains NaN or infinite values")
    norm = float(np.linalg.norm(wide))
    if not norm <= MAX_VECTOR_NORM:
        raise InvalidVector(
            f"{what} has L2 norm {norm:.3g}, above {MAX_VECTOR_NORM:.0e}: distances to it "
            "could not be represented in float32"
        )
    return wide.astype(np.float32)
