"""Products, their validation, and how they are stored beside their vectors."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from vrs.catalog.ids import normalize_product_id, photo_point_id, shown
from vrs.catalog.vectors import Vector
from vrs.errors import InvalidProduct
from vrs.limits import (
    CURRENCY_LETTERS,
    MAX_BRAND_BYTES,
    MAX_CATEGORY_BYTES,
    MAX_IMAGE_URI_BYTES,
    MAX_PHOTO_URIS_BYTES,
    MAX_PHOTOS,
    MAX_PRODUCT_ID_BYTES,
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
PATCHABLE = ("title", "category", "brand", "price", "currency", "in_stock", "group_id")
# Payload fields of a photo's own (the rest are the product's, the same on all its points).
PHOTO_FIELDS = ("image_uri", "image_sha256", "vector_sha256", "photo_index")


def uri_within_limits(uri: str) -> str:
    """A stored photo URI as answers show it: "" when over the limit (half a URI is wrong)."""
    return uri if _clip(uri, MAX_IMAGE_URI_BYTES) == uri else ""


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
    # The variant group (style) the product belongs to: the same dress in other colours.
    group_id: str = ""

    @property
    def group_key(self) -> str:
        """What a search collapses variants by: the group, or the product alone."""
        return f"g:{self.group_id}" if self.group_id else f"p:{self.product_id}"

    def within_limits(self) -> Product:
        """This product with attributes stored before the size limits cut to fit them, so a
        response built from it stays bounded (a cut URI is dropped: half a URI is wrong)."""
        return replace(
            self,
            title=_clip(self.title, MAX_TITLE_BYTES),
            category=_clip(self.category, MAX_CATEGORY_BYTES),
            brand=_clip(self.brand, MAX_BRAND_BYTES),
            currency=_clip(self.currency, CURRENCY_LETTERS),
            image_uri=uri_within_limits(self.image_uri),
            group_id=_clip(self.group_id, MAX_PRODUCT_ID_BYTES),
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
        group = normalize_product_id(self.group_id, "group_id") if self.group_id.strip() else ""
        return replace(self, product_id=pid, currency=currency.upper(), group_id=group)


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
    group_id: str | None = None
    versions: Versions = field(default_factory=dict)

    def changes(self) -> dict[str, Any]:
        return {n: getattr(self, n) for n in PATCHABLE if getattr(self, n) is not None}

    def apply(self, product: Product) -> Product:
        return replace(product, **self.changes()).validated()


@dataclass(frozen=True)
class StoredPhoto:
    """One photo of a product as the store holds it: its URI, what it held, its vector."""

    image_uri: str = ""
    image_sha256: str = ""
    vector_sha256: str = ""
    vector: Vector | None = field(default=None, compare=False, repr=False)
    # The point it is stored as, when read from the store (legacy points have other ids).
    point_id: str = field(default="", compare=False)

    @property
    def key(self) -> str:
        """What the photo's point id derives from: its image's bytes, else its vector's."""
        return self.image_sha256 or f"vector:{self.vector_sha256}"


@dataclass(frozen=True)
class StoredProduct:
    """A product as the store holds it: attributes, its photos (each a point with its vector)
    and their provenance.

    `image_sha256`, `vector_sha256` and `vector` are the first photo's, and so is
    `product.image_uri`: a one-photo product can be built with them alone. A search hit
    holds the one photo that matched, and its place among the product's photos
    (`photo_index`).
    """

    product: Product
    model_id: str
    image_sha256: str = ""
    vector_sha256: str = ""
    updated_at: str = ""
    versions: Versions = field(default_factory=dict)
    vector: Vector | None = field(default=None, compare=False, repr=False)
    photos: tuple[StoredPhoto, ...] = ()
    photo_index: int = 0

    def __post_init__(self) -> None:
        if not self.photos:
            only = StoredPhoto(
                self.product.image_uri, self.image_sha256, self.vector_sha256, self.vector
            )
            object.__setattr__(self, "photos", (only,))
            return
        first = self.photos[0]
        if first.image_uri != self.product.image_uri:
            # The product's image_uri is its first photo's: a product given a new one (a
            # replace of the product) moves the photo with it.
            first = replace(first, image_uri=self.product.image_uri)
            object.__setattr__(self, "photos", (first, *self.photos[1:]))
        object.__setattr__(self, "image_sha256", first.image_sha256)
        object.__setattr__(self, "vector_sha256", first.vector_sha256)
        object.__setattr__(self, "vector", first.vector)

    @property
    def photo_keys(self) -> tuple[str, ...]:
        return tuple(p.key for p in self.photos)

    def attributes_payload(self) -> dict[str, Any]:
        """The payload fields every photo of the product carries (all but PHOTO_FIELDS)."""
        payload = asdict(self.product)
        del payload["image_uri"]
        payload.update(
            group_key=self.product.group_key,
            model_id=self.model_id,
            updated_at=self.updated_at,
            # Strings: versions need 61 bits, and JSON numbers in Qdrant may become doubles.
            versions={name: str(v) for name, v in self.versions.items()},
        )
        return payload

    def points(self) -> list[tuple[str, Vector | None, dict[str, Any]]]:
        """(point id, vector, payload) of each photo: what the store writes."""
        shared = self.attributes_payload()
        pid = self.product.product_id
        return [
            (
                photo_point_id(pid, photo.key),
                photo.vector,
                {
                    **shared,
                    "image_uri": photo.image_uri,
                    "image_sha256": photo.image_sha256,
                    "vector_sha256": photo.vector_sha256,
                    "photo_index": index,
                },
            )
            for index, photo in enumerate(self.photos)
        ]

    def to_payload(self) -> dict[str, Any]:
        """The first photo's point payload."""
        return self.points()[0][2]

    @classmethod
    def from_payload(
        cls, payload: dict[str, Any], vector: Vector | None = None, point_id: str = ""
    ) -> StoredProduct:
        """The product as one point holds it: its attributes and that one photo."""
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
            group_id=str(payload.get("group_id", "")),
        )
        photo = StoredPhoto(
            image_uri=product.image_uri,
            image_sha256=str(payload.get("image_sha256", "")),
            vector_sha256=str(payload.get("vector_sha256", "")),
            vector=vector,
            point_id=point_id,
        )
        return cls(
            product=product,
            model_id=str(payload.get("model_id", "")),
            updated_at=str(payload.get("updated_at", "")),
            versions={str(k): int(v) for k, v in (payload.get("versions") or {}).items()},
            photos=(photo,),
            photo_index=_index(payload.get("photo_index")),
        )


def aggregated(points: list[StoredProduct]) -> StoredProduct:
    """One product from the points of its photos (from_payload each): its attributes from the
    first photo's point, its photos in their order."""
    ordered = sorted(points, key=lambda p: (p.photo_index, p.photos[0].key))
    first = ordered[0]
    return replace(first, photos=tuple(p.photos[0] for p in ordered), photo_index=0)


def check_photos(product_id: str, uris: list[str], count: int) -> None:
    """InvalidProduct when a product has no photo, too many, or too many URI bytes in all."""
    if count < 1:
        raise InvalidProduct(f"product {product_id!r} has no photo")
    if count > MAX_PHOTOS:
        raise InvalidProduct(f"product {product_id!r} has {count} photos, at most {MAX_PHOTOS}")
    sizes = [len(u.encode(errors="replace")) for u in uris]
    for n, size in enumerate(sizes):
        if size > MAX_IMAGE_URI_BYTES:
            raise InvalidProduct(
                f"product {product_id!r}: the URI of photo {n} is {size} bytes in UTF-8, at "
                f"most {MAX_IMAGE_URI_BYTES}"
            )
    total = sum(sizes)
    if total > MAX_PHOTO_URIS_BYTES:
        raise InvalidProduct(
            f"product {product_id!r}: its photo URIs are {total} bytes in UTF-8 together, at "
            f"most {MAX_PHOTO_URIS_BYTES}"
        )


def _index(raw: object) -> int:
    # Points written before products had several photos have no index: they are the first.
    if isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw):
        return max(0, int(raw))
    return 0
