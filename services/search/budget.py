"""A shopper's budget against a catalog's prices: which prices it is compared with (only its
own currency's, or every currency the operator gave a rate for, converted), the band a little
over it, and how far over it a product is."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from vrs.catalog.money import FxRates
from vrs.catalog.products import Product
from vrs.errors import InvalidInput
from vrs.store.filters import ProductFilter


def has_budget(flt: ProductFilter) -> bool:
    return flt.min_price is not None or flt.max_price is not None


def resolve(flt: ProductFilter, currencies: Sequence[str], rates: FxRates | None) -> ProductFilter:
    """`flt` with its price bounds tied to currencies. `currencies`: the catalog's.

    The budget's currency is the filter's, else the catalog's only one; a catalog priced in
    several currencies needs the filter to name one (InvalidInput naming them). Prices are
    compared as they are when the catalog has no other currency than the budget's; else only
    those in the budget's currency, or with `rates` every currency they cover, converted."""
    if not has_budget(flt):
        return flt
    named = sorted(set(currencies))
    currency = flt.currency
    if not currency:
        if len(named) > 1:
            raise InvalidInput(
                f"the catalog has prices in {', '.join(named)}: a budget (min_price, "
                "max_price) needs the filter's currency"
            )
        return replace(flt, currency=named[0] if named else "", priced_in=())
    if set(named) <= {currency}:
        return replace(flt, priced_in=())
    if rates is None or rates.units(currency, currency) is None:
        return replace(flt, priced_in=((currency, 1.0),))
    priced_in = {currency: 1.0}
    for other in named:
        units = rates.units(other, currency)
        if units is not None:
            priced_in[other] = units
    return replace(flt, priced_in=tuple(sorted(priced_in.items())))


def over_budget_band(flt: ProductFilter, fraction: float) -> ProductFilter | None:
    """The prices above the maximum, up to `fraction` over it (the same other conditions);
    None without a maximum, for a strict one (cheaper than a product) or a zero fraction."""
    if flt.max_price is None or flt.max_exclusive or fraction <= 0:
        return None
    return replace(
        flt,
        min_price=flt.max_price,
        min_exclusive=True,
        max_price=flt.max_price * (1 + fraction),
    )


def over_by(product: Product, flt: ProductFilter) -> float:
    """How far over the filter's maximum `product` is, in the budget's currency."""
    if product.price is None or flt.max_price is None:
        return 0.0
    units = dict(flt.priced_in).get(product.currency, 1.0)
    return round(max(0.0, product.price / units - flt.max_price), 2)


def cheaper_than(product: Product, flt: ProductFilter) -> ProductFilter:
    """`flt` narrowed to prices below `product`'s, in its currency (an explicit maximum that is
    lower wins)."""
    if product.price is None:
        raise InvalidInput(
            f"product {product.product_id!r} has no price: 'cheaper' compares with it"
        )
    if flt.currency and product.currency and flt.currency != product.currency:
        raise InvalidInput(
            f"'cheaper' compares in product {product.product_id!r}'s currency "
            f"{product.currency}; the filter's currency is {flt.currency}"
        )
    currency = flt.currency or product.currency
    if flt.max_price is not None and flt.max_price < product.price:
        return replace(flt, currency=currency)
    return replace(flt, currency=currency, max_price=product.price, max_exclusive=True)
