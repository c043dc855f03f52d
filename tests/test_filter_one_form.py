"""A filter's one form: made once (a filter already in it is kept, not copied on every search),
and a product left out of a validated filter without copying it field by field."""

from __future__ import annotations

from dataclasses import replace

from vrs.store.filters import NO_FILTER, ProductFilter


def test_a_filter_in_its_one_form_is_kept() -> None:
    canonical = ProductFilter(categories=("bags", "shoes"), brands=("acme",), currency="EUR")
    assert canonical.validated() is canonical
    assert NO_FILTER.validated() is NO_FILTER


def test_a_filter_out_of_its_one_form_is_made_over() -> None:
    messy = ProductFilter(
        categories=("shoes", "", "bags", "shoes"),
        brands=["acme"],  # type: ignore[arg-type]
        exclude_product_ids=("b", "a", "b"),
        currency=" eur ",
    )
    assert messy.validated() == ProductFilter(
        categories=("bags", "shoes"),
        brands=("acme",),
        exclude_product_ids=("a", "b"),
        currency="EUR",
    )
    assert isinstance(messy.validated().brands, tuple)


def test_leaving_a_product_out_is_replacing_its_exclusions() -> None:
    validated = ProductFilter(categories=("bags",), max_price=20.0).validated()
    left_out = validated.excluding(("p1",))
    assert left_out == replace(validated, exclude_product_ids=("p1",))
    assert hash(left_out) == hash(replace(validated, exclude_product_ids=("p1",)))
    assert left_out.cache_key().endswith("|not=p1")
    assert validated.exclude_product_ids == (), "the filter it came from is unchanged"
