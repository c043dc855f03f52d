"""The JSON shapes of the HTTP API (its OpenAPI document is made from these)."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer

from services.search.results import Match, SearchOptions, SearchResult
from services.web.backend import CatalogProduct, CatalogSummary
from services.web.filters import FilterFields
from vrs.catalog.products import Product
from vrs.images.region import Region, UsedRegion
from vrs.limits import MAX_FILTER_VALUES


def image_path(product_id: str, photo: int = 0) -> str:
    """Where the gateway serves a product's photo (its first: no `photo` parameter)."""
    path = f"/v1/products/{quote(product_id, safe='')}/image"
    return f"{path}?photo={photo}" if photo else path


class ProductOut(BaseModel):
    """A catalog product as the API shows it; its photo is served at image_url."""

    product_id: str
    title: str
    category: str
    brand: str
    price: float | None
    currency: str
    in_stock: bool
    group_id: str = Field(description="The product's variant group (style); empty: none.")
    image_url: str = Field(description="Path of the product's photo on this gateway.")

    @classmethod
    def of(cls, product: Product, photo: int = 0) -> ProductOut:
        return cls(
            product_id=product.product_id,
            title=product.title,
            category=product.category,
            brand=product.brand,
            price=product.price,
            currency=product.currency,
            in_stock=product.in_stock,
            group_id=product.group_id,
            image_url=image_path(product.product_id, photo),
        )


class CatalogProductOut(ProductOut):
    """A catalog product with all its photos (image_url: the first)."""

    images: list[str] = Field(description="Paths of all the product's photos, in order.")

    @classmethod
    def of_stored(cls, found: CatalogProduct) -> CatalogProductOut:
        pid = found.product.product_id
        images = [image_path(pid, n) for n in range(len(found.photo_uris))]
        return cls(images=images, **ProductOut.of(found.product).model_dump())


class VariantOut(BaseModel):
    """Another variant of a match's group (another colour) that passes the same filters."""

    product_id: str
    price: float | None
    currency: str
    in_stock: bool
    image_url: str = Field(description="Path of the variant's photo on this gateway.")

    @classmethod
    def of(cls, product: Product) -> VariantOut:
        return cls(
            product_id=product.product_id,
            price=product.price,
            currency=product.currency,
            in_stock=product.in_stock,
            image_url=image_path(product.product_id),
        )


class MatchOut(ProductOut):
    """A similar product (image_url: its photo that matched) and its Euclidean distance to
    the query; with collapse=group, its group's other variants."""

    distance: float
    variants: list[VariantOut] = Field(
        default_factory=list, description="collapse=group: the group's other variants."
    )
    match: Literal["close", "similar", "weak"] | None = Field(
        None,
        description="How close, by the collection's calibration (vrs calibrate): close = likely "
        "the same product or a near twin, similar = the same kind, weak = little in common. "
        "Absent without a calibration.",
    )

    @classmethod
    def of_match(cls, match: Match) -> MatchOut:
        return cls(
            distance=match.distance,
            variants=[VariantOut.of(v) for v in match.variants],
            match=None if match.label is None else match.label.value,
            **ProductOut.of(match.product, match.photo_index).model_dump(),
        )

    @model_serializer(mode="wrap")
    def _without_invented_labels(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # No calibration, no label: the field is left out rather than null.
        data: dict[str, Any] = handler(self)
        if data.get("match") is None:
            data.pop("match", None)
        return data


class OverBudgetOut(MatchOut):
    """A similar product a little over the budget's maximum, and by how much."""

    over_by: float = Field(description="How far over max_price, in the budget's currency.")

    @classmethod
    def of_over(cls, match: Match) -> OverBudgetOut:
        return cls(over_by=match.over_by or 0.0, **MatchOut.of_match(match).model_dump())


class QueryOut(BaseModel):
    """What was searched: a catalog product (more like this), or null for a photo."""

    product_id: str | None = None


class RegionIn(BaseModel):
    """A part of the photo, as fractions of its width and height (top left corner 0, 0)."""

    model_config = {"extra": "forbid", "strict": True}

    x: float
    y: float
    width: float
    height: float

    def region(self) -> Region:
        return Region(self.x, self.y, self.width, self.height).validated()


class RegionOut(BaseModel):
    """The part of the photo a search used: the one given, the main item found, or all of it."""

    x: float
    y: float
    width: float
    height: float
    source: Literal["given", "found", "whole"]

    @classmethod
    def of(cls, used: UsedRegion) -> RegionOut:
        box = used.region
        return cls(x=box.x, y=box.y, width=box.width, height=box.height, source=used.source.value)


class SearchOut(BaseModel):
    """Similar products, nearest first."""

    model_id: str
    from_cache: bool
    query: QueryOut
    matches: list[MatchOut]
    over_budget: list[OverBudgetOut] = Field(
        default_factory=list,
        description="When fewer than k matches fit max_price: the nearest a little over it "
        "(never mixed into matches).",
    )
    region: RegionOut | None = Field(
        None, description="Photo searches: the part of the photo searched on."
    )

    @classmethod
    def of(cls, result: SearchResult, product_id: str | None = None) -> SearchOut:
        return cls(
            model_id=result.model_id,
            from_cache=result.from_cache,
            query=QueryOut(product_id=product_id),
            matches=[MatchOut.of_match(m) for m in result.matches],
            over_budget=[OverBudgetOut.of_over(m) for m in result.over_budget],
            region=None if result.region is None else RegionOut.of(result.region),
        )


class CatalogOut(BaseModel):
    """The catalog's size and model, and the categories, brands and currencies filters can
    pick from."""

    points: int
    model_id: str
    categories: list[str]
    brands: list[str]
    currencies: list[str] = Field(
        description="The currencies the catalog's prices are in (ISO 4217); with more than "
        "one, a budget names its currency."
    )

    @classmethod
    def of(cls, summary: CatalogSummary) -> CatalogOut:
        return cls(
            points=summary.points,
            model_id=summary.model_id,
            categories=list(summary.categories),
            brands=list(summary.brands),
            currencies=list(summary.currencies),
        )


class ImageIn(BaseModel):
    """The query photo: base64 bytes or a URI the server allows (file root, allowed hosts)."""

    # JSON is typed: a number sent as "5" or a flag sent as 1 is the caller's mistake.
    model_config = {"extra": "forbid", "strict": True}

    data: str | None = Field(None, description="The image file's bytes, base64.")
    uri: str | None = Field(None, description="file:// or http(s):// URI of the image.")


class SearchImageIn(FilterFields):
    """A photo search as JSON (multipart/form-data: the `image` file and SearchFilters)."""

    # JSON is typed: "k": true or "k": "5" is refused naming the field, not read as 1 or 5.
    model_config = {"extra": "forbid", "strict": True}

    image: ImageIn
    region: RegionIn | None = Field(
        None, description="Search on this part of the photo; unset: the main item, found."
    )
    categories: list[str] = Field(
        default_factory=list,
        max_length=MAX_FILTER_VALUES,
        description=f"Categories kept (any of; at most {MAX_FILTER_VALUES}).",
    )
    brands: list[str] = Field(
        default_factory=list,
        max_length=MAX_FILTER_VALUES,
        description=f"Brands kept (any of; at most {MAX_FILTER_VALUES}).",
    )

    def options(self) -> SearchOptions:
        return self.search_options(self.categories, self.brands)


class StatusOut(BaseModel):
    """A health answer."""

    status: str


class ErrorDetail(BaseModel):
    """Why a request failed: the gRPC-style code and a message naming the problem."""

    code: str
    message: str


class ErrorOut(BaseModel):
    """The body of every error answer."""

    error: ErrorDetail
