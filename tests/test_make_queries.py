"""`vrs make-queries`: a shop-photo query set of a catalog, the same for the same seed."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from services.cli.main import main
from tests.support.eval_env import catalog_sample, query_rows


def make(catalog: Path, out: Path, seed: int) -> dict[str, bytes]:
    assert main(["make-queries", str(catalog), str(out), "--seed", str(seed)]) == 0
    return {p.name: p.read_bytes() for p in sorted((out / "images").iterdir())}


@pytest.fixture
def small_catalog(sample_catalog: Path, tmp_path: Path) -> Path:
    rows = ["product_id,title,category,brand,price,currency,image"]
    for e in catalog_sample(sample_catalog, per_category=2):
        rows.append(f"{e.product_id},,{e.category},,,,{e.image}")
    path = tmp_path / "small.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_the_same_seed_makes_the_same_query_set(small_catalog: Path, tmp_path: Path) -> None:
    first = make(small_catalog, tmp_path / "a", seed=5)
    assert first == make(small_catalog, tmp_path / "b", seed=5)
    assert first != make(small_catalog, tmp_path / "c", seed=6)


def test_every_product_gets_its_queries_with_its_category(
    small_catalog: Path, tmp_path: Path
) -> None:
    make(small_catalog, tmp_path / "q", seed=1)
    rows = query_rows(tmp_path / "q" / "queries.csv")
    products = [line.split(",") for line in small_catalog.read_text().splitlines()[1:]]
    assert len(rows) == 2 * len(products)
    assert {(r["product_id"], r["category"]) for r in rows} == {(p[0], p[2]) for p in products}
    for row in rows:
        with Image.open(tmp_path / "q" / row["image"]) as image:
            assert image.format == "JPEG" and max(image.size) <= 384


def test_an_unreadable_photo_is_left_out_alone(
    small_catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    with small_catalog.open("a", encoding="utf-8") as handle:
        handle.write(f"broken-1,,shirt,,,,{broken}\n")
    code = main(["make-queries", str(small_catalog), str(tmp_path / "q")])
    assert code == 1
    assert "failed broken-1: cannot read" in capsys.readouterr().out
    rows = query_rows(tmp_path / "q" / "queries.csv")
    assert rows and "broken-1" not in {r["product_id"] for r in rows}
