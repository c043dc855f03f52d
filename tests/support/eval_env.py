"""A small indexed catalog and a shop-photo query set of it, for `vrs eval` tests."""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Sequence
from pathlib import Path

import pytest

from services.cli.catalog_files import CatalogEntry, read_catalog
from services.cli.index import upsert_request
from services.cli.main import main
from tests.support.search_env import Vrs
from vrs.evaluation.queryset import QUERIES_FILE, SHOP, SourcePhoto, make_query_set
from vrs.v1 import embedder_pb2


def catalog_sample(catalog: Path, per_category: int) -> list[CatalogEntry]:
    """The first `per_category` products of each category of catalog/catalog.csv."""
    taken: dict[str, int] = {}
    sample = []
    for entry in read_catalog(catalog / "catalog.csv"):
        if taken.get(entry.category, 0) < per_category:
            taken[entry.category] = taken.get(entry.category, 0) + 1
            sample.append(entry)
    return sample


def small_catalog_csv(catalog: Path, folder: Path, per_category: int = 5) -> Path:
    """A catalog CSV of the first `per_category` products of each category, photos by path."""
    lines = ["product_id,title,category,brand,price,currency,image"]
    for e in catalog_sample(catalog, per_category):
        price = "" if e.price is None else f"{e.price:.2f}"
        lines.append(f"{e.product_id},{e.title},{e.category},,{price},{e.currency},{e.image}")
    path = folder / "small-catalog.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def index_entries(vrs: Vrs, entries: Sequence[CatalogEntry]) -> None:
    request = embedder_pb2.UpsertProductsRequest(items=[upsert_request(e) for e in entries])
    response = await vrs.embedder.UpsertProducts(request)
    assert {r.outcome for r in response.results} == {embedder_pb2.UPSERT_OUTCOME_UPSERTED}


def query_set(
    entries: Sequence[CatalogEntry], out_dir: Path, per_product: int = 2, kind: str = SHOP
) -> Path:
    """`per_product` queries of each entry, of `kind` (shop photos, or scenes with boxes)."""
    photos = [SourcePhoto(e.product_id, e.image, e.category) for e in entries]
    make_query_set(photos, out_dir, seed=11, per_product=per_product, kind=kind)
    return out_dir / QUERIES_FILE


def query_rows(queries: Path) -> list[dict[str, str]]:
    with queries.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


async def run_cli(vrs: Vrs, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`vrs --address <vrs> args...` in a thread (the server runs on this event loop)."""
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["--address", f"127.0.0.1:{vrs.server.port}", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err
