"""Product attributes: the size limits (UTF-8 bytes), the currency format, and how products
stored before the limits are cut to fit them in responses."""

from __future__ import annotations

import pytest

from tests.support.products import WIDE, largest_product, wide_text
from vrs.catalog.products import Product, ProductPatch
from vrs.errors import InvalidProduct
from vrs.limits import (
    MAX_BRAND_BYTES,
    MAX_CATEGORY_BYTES,
    MAX_IMAGE_URI_BYTES,
    MAX_TITLE_BYTES,
)

ACCEPTED = [
    ("every attribute at its limit", largest_product(0), {}),
    ("currency in lower case", Product("p", currency=" usd "), {"currency": "USD"}),
    ("no currency", Product("p", currency=""), {"currency": ""}),
    ("title of 1000 one-byte characters", Product("p", title="t" * MAX_TITLE_BYTES), {}),
]


@pytest.mark.parametrize(
    ("product", "expected"), [c[1:] for c in ACCEPTED], ids=[c[0] for c in ACCEPTED]
)
def test_products_within_the_limits_are_accepted(
    product: Product, expected: dict[str, str]
) -> None:
    valid = product.validated()
    for name, value in expected.items():
        assert getattr(valid, name) == value


REFUSED = [
    ("title", Product("p", title="t" * (MAX_TITLE_BYTES + 1)), "title is 1001 bytes"),
    # 251 characters, but 1004 bytes: the limit counts bytes.
    ("wide title", Product("p", title=WIDE * 251), "title is 1004 bytes in UTF-8, at most 1000"),
    ("category", Product("p", category=wide_text(MAX_CATEGORY_BYTES + 4)), "category is 204"),
    ("brand", Product("p", brand="b" * (MAX_BRAND_BYTES + 1)), "brand is 201 bytes"),
    ("image_uri", Product("p", image_uri="u" * (MAX_IMAGE_URI_BYTES + 1)), "image_uri is 4097"),
    ("10 MB title", Product("p", title="t" * 10_000_000), "title is 10000000 bytes"),
    ("four-letter currency", Product("p", currency="EURO"), "currency 'EURO' is not a 3-letter"),
    ("symbol currency", Product("p", currency="€"), "currency '€' is not a 3-letter ISO 4217"),
    ("digits currency", Product("p", currency="U5D"), "currency 'U5D'"),
    # "ß".upper() is "SS": the check is on the letters given, not on what upper() makes of them.
    ("non-ASCII letters", Product("p", currency="ßab"), "currency 'ßab'"),
    ("lone surrogate", Product("p", title="a\udcff"), "title is not valid Unicode text"),
]


@pytest.mark.parametrize(
    ("product", "reason"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED]
)
def test_products_beyond_a_limit_are_refused_naming_it(product: Product, reason: str) -> None:
    with pytest.raises(InvalidProduct, match=r"^product 'p': ") as refused:
        product.validated()
    assert reason in str(refused.value)


def test_a_patch_cannot_push_an_attribute_past_its_limit() -> None:
    with pytest.raises(InvalidProduct, match="title is 1001 bytes"):
        ProductPatch("p", title="t" * (MAX_TITLE_BYTES + 1)).apply(Product("p"))


def test_an_oversized_stored_product_is_cut_to_the_limits_for_responses() -> None:
    stored = Product(
        "old-1",
        title=WIDE * 300 + "tail",
        category="c" * 500,
        brand="é" * 150,
        currency="EURO",
        image_uri="https://img.example.com/" + "u" * 5000,
    )
    cut = stored.within_limits()
    assert cut.title == WIDE * 250  # whole characters only
    assert cut.category == "c" * MAX_CATEGORY_BYTES
    assert cut.brand == "é" * 100
    assert cut.currency == "EUR"
    assert cut.image_uri == "", "a cut URI would point somewhere else: dropped"
    assert cut.product_id == "old-1"
    assert cut.validated() == cut


def test_a_product_within_the_limits_is_unchanged_for_responses() -> None:
    product = largest_product(1)
    assert product.within_limits() == product
