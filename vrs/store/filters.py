"""What a shopper can restrict a search to, and its translation to Qdrant filters."""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from vrs.errors import InvalidInput
from vrs.limits import MAX_FILTER_VALUES

# Payload fields with an index, and the index type each gets: the filters', and the fields a
# product's photos (product_id) and a variant group's products (group_key) are found by.
INDEXED_FIELDS = {
    "price": "float",
    "category": "keyword",
    "brand": "keyword",
    "currency": "keyword",
    "in_stock": "bool",
    "product_id": "keyword",
    "group_key": "keyword",
    "photo_index": "integer",
}


@dataclass(frozen=True)
class ProductFilter:
    """The conditions every search result satisfies (price, category, brand, stock)."""

    min_price: float | None = None
    max_price: float | None = None
    categories: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    in_stock_only: bool = False
    exclude_product_ids: tuple[str, ...] = ()
    # Variant groups (Product.group_key) left out: more like this, without its own variants.
    exclude_group_keys: tuple[str, ...] = ()
    # Only these groups' products (looking up a group's variants), and only first photos (one
    # point per product).
    group_keys: tuple[str, ...] = ()
    first_photos: bool = False
    # The currency the price bounds are in ("": the catalog's only one; see
    # services.search.budget), and, once resolved, the currencies they are compared in with
    # each one's units per unit of the budget's: bounds apply to products priced in one of
    # them, scaled. Empty: every product's price is compared as is (one currency).
    currency: str = ""
    priced_in: tuple[tuple[str, float], ...] = ()
    # Strict bounds: above (not at) min_price, below (not at) max_price.
    min_exclusive: bool = False
    max_exclusive: bool = False

    def validated(self) -> ProductFilter:
        """This filter in its one form (itself when it is already); InvalidInput naming what
        is wrong."""
        for name in ("categories", "brands", "exclude_product_ids"):
            count = len(getattr(self, name))
            if count > MAX_FILTER_VALUES:
                raise InvalidInput(
                    f"filter {name} lists {count} values, at most {MAX_FILTER_VALUES}"
                )
        for name in ("min_price", "max_price"):
            value = getattr(self, name)
            if value is not None and (not math.isfinite(value) or value < 0):
                raise InvalidInput(f"filter {name} {value} is not a finite number >= 0")
        currency = self.currency.strip().upper()
        if currency and not (len(currency) == 3 and currency.isascii() and currency.isalpha()):
            raise InvalidInput(
                f"filter currency {self.currency[:16]!r} is not a 3-letter ISO 4217 code"
            )
        if (
            self.min_price is not None
            and self.max_price is not None
            and self.min_price > self.max_price
        ):
            raise InvalidInput(
                f"filter min_price {self.min_price} is above max_price {self.max_price}"
            )
        categories = _one_form(self.categories, drop_empty=True)
        brands = _one_form(self.brands, drop_empty=True)
        excluded = _one_form(self.exclude_product_ids)
        excluded_groups = _one_form(self.exclude_group_keys)
        groups = _one_form(self.group_keys)
        priced_in = _one_form(self.priced_in)
        if (
            currency == self.currency
            and categories is self.categories
            and brands is self.brands
            and excluded is self.exclude_product_ids
            and excluded_groups is self.exclude_group_keys
            and groups is self.group_keys
            and priced_in is self.priced_in
        ):
            # Most queries' filters (none, or a few values): no copy on every search.
            return self
        return ProductFilter(
            min_price=self.min_price,
            max_price=self.max_price,
            categories=categories,
            brands=brands,
            in_stock_only=self.in_stock_only,
            exclude_product_ids=excluded,
            exclude_group_keys=excluded_groups,
            group_keys=groups,
            first_photos=self.first_photos,
            currency=currency,
            priced_in=priced_in,
            min_exclusive=self.min_exclusive,
            max_exclusive=self.max_exclusive,
        )

    def excluding(self, product_ids: tuple[str, ...]) -> ProductFilter:
        """This validated filter with exactly these products left out (a validated filter
        again, made without re-running the checks it passed)."""
        copy = object.__new__(ProductFilter)
        # dataclasses.replace re-runs __init__, setting 13 frozen fields one by one: five times
        # the cost, on every search by product.
        fields = vars(copy)
        fields.update(vars(self))
        fields["exclude_product_ids"] = _one_form(product_ids)
        return copy

    @property
    def is_empty(self) -> bool:
        return self == ProductFilter()

    def cache_key(self) -> str:
        """Canonical text of a validated filter: equal filters give equal keys."""
        return "|".join(
            [
                f"min={self.min_price!r}",
                f"max={self.max_price!r}",
                "cat=" + ",".join(self.categories),
                "brand=" + ",".join(self.brands),
                f"stock={int(self.in_stock_only)}",
                "not=" + ",".join(self.exclude_product_ids),
            ]
            # Only when set: the keys of filters without them stay as they were.
            + (["notgroup=" + ",".join(self.exclude_group_keys)] if self.exclude_group_keys else [])
            + ([f"cur={self.currency}"] if self.currency else [])
            + (
                [f"strict={int(self.min_exclusive)}{int(self.max_exclusive)}"]
                if self.min_exclusive or self.max_exclusive
                else []
            )
        )

    def to_qdrant(self, dialect: SimpleNamespace) -> Any | None:
        """This filter in one Qdrant API's classes (qdrant-client models or qdrant_edge).

        Both APIs mirror Qdrant's filter language; `dialect` names the classes that differ.
        """
        must: list[Any] = []
        if self.min_price is not None or self.max_price is not None:
            if not self.priced_in:
                must.append(self._price_range(dialect, 1.0))
            else:
                must.append(
                    dialect.Filter(
                        should=[
                            dialect.Filter(
                                must=[
                                    dialect.FieldCondition(
                                        key="currency", match=dialect.MatchAny(any=[currency])
                                    ),
                                    self._price_range(dialect, units),
                                ]
                            )
                            for currency, units in self.priced_in
                        ]
                    )
                )
        if self.categories:
            must.append(
                dialect.FieldCondition(
                    key="category", match=dialect.MatchAny(any=list(self.categories))
                )
            )
        if self.brands:
            must.append(
                dialect.FieldCondition(key="brand", match=dialect.MatchAny(any=list(self.brands)))
            )
        if self.in_stock_only:
            must.append(dialect.in_stock())
        if self.group_keys:
            must.append(
                dialect.FieldCondition(
                    key="group_key", match=dialect.MatchAny(any=list(self.group_keys))
                )
            )
        must_not: list[Any] = []
        if self.exclude_product_ids:
            must_not.append(
                dialect.FieldCondition(
                    key="product_id", match=dialect.MatchAny(any=list(self.exclude_product_ids))
                )
            )
        if self.exclude_group_keys:
            must_not.append(
                dialect.FieldCondition(
                    key="group_key", match=dialect.MatchAny(any=list(self.exclude_group_keys))
                )
            )
        if self.first_photos:
            # Points without an index (written before products had several photos) are first.
            must_not.append(
                dialect.FieldCondition(key="photo_index", range=dialect.Range(gte=1, lte=None))
            )
        if not must and not must_not:
            return None
        return dialect.Filter(must=must or None, must_not=must_not or None)

    def _price_range(self, dialect: SimpleNamespace, units: float) -> Any:
        """The price bounds, scaled by `units` (another currency's units per budget unit)."""
        low = None if self.min_price is None else self.min_price * units
        high = None if self.max_price is None else self.max_price * units
        bounds = {
            ("gt" if self.min_exclusive else "gte"): low,
            ("lt" if self.max_exclusive else "lte"): high,
        }
        return dialect.FieldCondition(key="price", range=dialect.Range(**bounds))


# The filter of a query that sets none: shared (it is immutable), and already in its one form.
NO_FILTER = ProductFilter()


def _one_form(values: tuple[Any, ...], drop_empty: bool = False) -> tuple[Any, ...]:
    """The values sorted, once each (and without empty ones): `values` itself when it already
    is."""
    if isinstance(values, tuple) and len(values) < 2 and (not drop_empty or all(values)):
        return values
    one = tuple(sorted({v for v in values if v} if drop_empty else set(values)))
    return values if one == values else one
