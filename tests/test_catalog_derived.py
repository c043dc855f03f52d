"""The demos' derived catalog: more photos for some products, colour variant groups for others."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from services.cli.catalog_files import CatalogEntry, read_catalog
from vrs.catalog.derived import COLOURS, Derived, derive_catalog, recolour
from vrs.catalog.sample import generate


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("source"), per_category=6)


@pytest.fixture(scope="module")
def derived(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Derived:
    return derive_catalog(source, tmp_path_factory.mktemp("derived"))


@pytest.fixture(scope="module")
def entries(derived: Derived) -> dict[str, CatalogEntry]:
    return {e.product_id: e for e in read_catalog(derived.csv)}


def test_every_source_product_is_kept(source: Path, entries: dict[str, CatalogEntry]) -> None:
    assert {e.product_id for e in read_catalog(source)} <= set(entries)


def test_chosen_products_have_three_photos_all_under_the_folder(
    derived: Derived, entries: dict[str, CatalogEntry]
) -> None:
    assert derived.multi_photo
    for pid in derived.multi_photo:
        photos = entries[pid].images
        assert len(photos) == 3
        assert all(p.is_file() and derived.csv.parent in p.parents for p in photos)


def test_each_group_is_the_product_and_its_recoloured_copies_at_their_own_prices(
    derived: Derived, entries: dict[str, CatalogEntry]
) -> None:
    assert derived.groups
    for pid in derived.groups:
        members = [e for e in entries.values() if e.group_id == f"style-{pid}"]
        assert {m.product_id for m in members} == {pid} | {f"{pid}-{c}" for c, _, _ in COLOURS}
        assert len({m.price for m in members}) == len(members)
        assert all(m.category == entries[pid].category for m in members)


def test_products_outside_groups_have_no_group(
    derived: Derived, entries: dict[str, CatalogEntry]
) -> None:
    grouped = {e.product_id for e in entries.values() if e.group_id}
    assert grouped == {p for g in derived.groups for p in (g, *(f"{g}-{c}" for c, _, _ in COLOURS))}


def test_the_priciest_shirt_has_variants(source: Path, derived: Derived) -> None:
    shirts = [e for e in read_catalog(source) if e.category == "shirt"]
    assert max(shirts, key=lambda e: e.price or 0).product_id in derived.groups


def test_recolour_turns_colours_and_keeps_greys() -> None:
    image = Image.new("RGB", (2, 1))
    image.putpixel((0, 0), (200, 30, 30))
    image.putpixel((1, 0), (128, 128, 128))
    turned = recolour(image, 1 / 3)
    red, green, _ = turned.getpixel((0, 0))  # type: ignore[misc]
    assert green > red, "red turned a third of the way round is green"
    assert turned.getpixel((1, 0)) == (128, 128, 128)


def test_deriving_twice_gives_the_same_file(source: Path, derived: Derived, tmp_path: Path) -> None:
    assert derive_catalog(source, tmp_path).csv.read_text() == derived.csv.read_text()
