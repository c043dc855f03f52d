"""The filters of a search as the HTTP API takes them, and their conversion to SearchOptions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
)
from pydantic_core import PydanticCustomError

from services.search.results import SearchOptions
from vrs.limits import MAX_FILTER_VALUES
from vrs.store.filters import ProductFilter
from vrs.store.query import Collapse

_EXPECTED = {"k": "an integer", "in_stock": "true or false", "over_budget": "true or false"}


class FilterFields(BaseModel):
    """The filters every search takes, whatever carries them (query string, form or JSON)."""

    k: int | None = Field(
        None, description="How many matches; unset: VRS_SEARCH_DEFAULT_K (most VRS_SEARCH_MAX_K)."
    )
    min_price: float | None = Field(None, description="Lowest price kept.")
    max_price: float | None = Field(None, description="Highest price kept.")
    in_stock: bool = Field(False, description="Only products in stock.")
    max_distance: float | None = Field(
        None, description="Largest Euclidean distance to the query kept."
    )
    collapse: Literal["product", "group"] = Field(
        "product",
        description="One result per product, or per variant group (with its other variants).",
    )
    currency: str = Field(
        "",
        max_length=16,
        description="Currency of min_price and max_price (ISO 4217); empty: the catalog's only "
        "one (a catalog priced in several needs it).",
    )
    over_budget: bool = Field(
        True,
        description="When fewer than k fit max_price: the nearest a little over it, apart "
        "(over_budget); false: never.",
    )

    def search_options(self, categories: Sequence[str], brands: Sequence[str]) -> SearchOptions:
        return SearchOptions(
            k=self.k,
            collapse=Collapse(self.collapse),
            filter=ProductFilter(
                min_price=self.min_price,
                max_price=self.max_price,
                categories=tuple(categories),
                brands=tuple(brands),
                in_stock_only=self.in_stock,
                currency=self.currency,
            ),
            max_distance=self.max_distance,
            over_budget=self.over_budget,
        )


class SearchFilters(FilterFields):
    """The filters as query-string or form fields: `category` and `brand` repeat."""

    category: list[str] = Field(
        default_factory=list,
        max_length=MAX_FILTER_VALUES,
        description=f"Categories kept (any of; at most {MAX_FILTER_VALUES}).",
    )
    brand: list[str] = Field(
        default_factory=list,
        max_length=MAX_FILTER_VALUES,
        description=f"Brands kept (any of; at most {MAX_FILTER_VALUES}).",
    )

    @field_validator(
        "k", "min_price", "max_price", "in_stock", "max_distance", "over_budget", mode="wrap"
    )
    @classmethod
    def _name_what_was_expected(
        cls, value: object, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> object:
        # A field typed by hand deserves a plain answer, not pydantic's parsing jargon.
        try:
            return handler(value)
        except ValidationError:
            if not isinstance(value, str):
                raise
            expected = _EXPECTED.get(info.field_name or "", "a number")
            raise PydanticCustomError(
                "filter_parsing",
                "{text} is not {expected}",
                {"text": repr(value[:40]), "expected": expected},
            ) from None

    def options(self) -> SearchOptions:
        return self.search_options(self.category, self.brand)
