"""`vrs eval` against a real server: its numbers match the ones computed here from the
server's own SearchByImage answers; a threshold and a bad query make it exit non-zero."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import pytest_asyncio

from services.cli.catalog_files import read_catalog
from services.cli.main import main
from tests.support.eval_env import (
    catalog_sample,
    index_entries,
    query_rows,
    query_set,
    run_cli,
    small_catalog_csv,
)
from tests.support.search_env import Vrs
from vrs.catalog.derived import derive_catalog
from vrs.evaluation.queryset import SCENE
from vrs.v1 import common_pb2, embedder_pb2, search_pb2

pytestmark = pytest.mark.slow


@pytest_asyncio.fixture
async def queries(vrs: Vrs, sample_catalog: Path, tmp_path: Path) -> Path:
    """8 indexed products (4 of each of the first categories), 2 shop photos of each."""
    entries = catalog_sample(sample_catalog, per_category=4)[:8]
    await index_entries(vrs, entries)
    return query_set(entries, tmp_path / "queries")


async def ranks_from_the_server(
    vrs: Vrs, queries: Path, *, boxes: bool = False
) -> list[int | None]:
    """Each query's rank of its product in the server's answer (on its box when `boxes`)."""
    ranks: list[int | None] = []
    for row in query_rows(queries):
        image = (queries.parent / row["image"]).read_bytes()
        region = None
        if boxes:
            x, y, width, height = (float(v) for v in row["box"].split(","))
            region = common_pb2.Region(x=x, y=y, width=width, height=height)
        response = await vrs.search.SearchByImage(
            search_pb2.SearchByImageRequest(
                image=common_pb2.ImageSource(data=image), k=10, region=region
            )
        )
        ids = [m.product_id for m in response.matches]
        ranks.append(ids.index(row["product_id"]) + 1 if row["product_id"] in ids else None)
    return ranks


async def test_eval_reports_recall_and_mrr_of_the_servers_answers(
    vrs: Vrs, queries: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await run_cli(vrs, capsys, "eval", str(queries), "--json")
    assert code == 0, err
    report = json.loads(out)
    ranks = await ranks_from_the_server(vrs, queries)
    n = len(ranks)
    assert report["queries"] == n == 16 and report["failed"] == 0
    for k in (1, 5, 10):
        found = sum(1 for r in ranks if r is not None and r <= k)
        assert report[f"recall_at_{k}"] == pytest.approx(found / n), k
    assert report["mrr"] == pytest.approx(sum(1 / r for r in ranks if r is not None) / n)
    assert 0.0 <= report["category_precision_at_5"] <= 1.0
    assert report["latency_p50_ms"] <= report["latency_p99_ms"]
    assert sum(c["queries"] for c in report["per_category"].values()) == n


@pytest.mark.parametrize("boxes", [False, True], ids=["found", "boxes-given"])
async def test_eval_of_scenes_searches_each_on_its_box_with_region(
    vrs: Vrs, sample_catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], boxes: bool
) -> None:
    entries = catalog_sample(sample_catalog, per_category=2)[:6]
    await index_entries(vrs, entries)
    scenes = query_set(entries, tmp_path / "scenes", per_product=1, kind=SCENE)
    assert all(row["box"] for row in query_rows(scenes))
    flags = ["--region"] if boxes else []
    code, out, err = await run_cli(vrs, capsys, "eval", str(scenes), "--json", *flags)
    assert code == 0, err
    ranks = await ranks_from_the_server(vrs, scenes, boxes=boxes)
    found = sum(1 for r in ranks if r == 1)
    assert json.loads(out)["recall_at_1"] == pytest.approx(found / len(ranks))


async def test_eval_exits_non_zero_under_the_recall_threshold(
    vrs: Vrs, queries: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = await run_cli(vrs, capsys, "eval", str(queries), "--min-recall-at-1", "1.01")
    assert code == 1
    assert "under --min-recall-at-1 1.010" in err


async def test_eval_text_report_has_a_row_per_category(
    vrs: Vrs, queries: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await run_cli(vrs, capsys, "eval", str(queries))
    assert code == 0, err
    assert "recall@1" in out and "MRR" in out and "latency p50" in out
    categories = {row["category"] for row in query_rows(queries)}
    lines = out.splitlines()
    assert all(any(line.startswith(f"{c} ") for line in lines) for c in categories)


async def test_a_query_with_a_missing_image_fails_alone(
    vrs: Vrs, queries: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with queries.open("a", encoding="utf-8") as handle:
        handle.write("images/missing.jpg,shirt-001,shirt\n")
    code, out, err = await run_cli(vrs, capsys, "eval", str(queries), "--json")
    report = json.loads(out)
    assert code == 1 and "1 of 17 queries failed" in err
    assert report["queries"] == 16 and report["failed"] == 1
    assert "missing.jpg" in report["failures"][0]


async def test_eval_of_products_with_photos_and_variants_reports_product_and_group_recall(
    vrs: Vrs, sample_catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    derived = derive_catalog(small_catalog_csv(sample_catalog, tmp_path), tmp_path / "derived")
    await index_entries(vrs, read_catalog(derived.csv))
    made = main(["make-queries", str(derived.csv), str(tmp_path / "q"), "--per-product", "2"])
    queries = tmp_path / "q" / "queries.csv"
    assert made == 0
    code, out, err = await run_cli(vrs, capsys, "eval", str(queries), "--json")
    assert code == 0, err
    report = json.loads(out)
    product_hits, group_hits = {1: 0, 5: 0, 10: 0}, {1: 0, 5: 0, 10: 0}
    rows = query_rows(queries)
    for row in rows:
        image = (queries.parent / row["image"]).read_bytes()
        response = await vrs.search.SearchByImage(
            search_pb2.SearchByImageRequest(image=common_pb2.ImageSource(data=image), k=10)
        )
        ids = [m.product_id for m in response.matches]
        assert len(ids) == len(set(ids)), "each product once, whichever photo matched"
        keys = [m.product.group_id or m.product_id for m in response.matches]
        for k in product_hits:
            product_hits[k] += row["product_id"] in ids[:k]
            group_hits[k] += (row["group_id"] or row["product_id"]) in keys[:k]
    for k in product_hits:
        assert report[f"recall_at_{k}"] == pytest.approx(product_hits[k] / len(rows)), k
        assert report[f"group_recall_at_{k}"] == pytest.approx(group_hits[k] / len(rows)), k
    assert report["group_recall_at_1"] >= report["recall_at_1"]


async def test_calibrate_keeps_thresholds_that_label_matches_and_eval_measures_them(
    vrs: Vrs, queries: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await run_cli(vrs, capsys, "calibrate", str(queries), "--json")
    assert code == 0, err
    measured = json.loads(out)
    assert measured["kept"] and measured["queries"] == 16
    assert 0 <= measured["close_max_distance"] <= measured["similar_max_distance"]
    stats = await vrs.embedder.GetStats(embedder_pb2.GetEmbedderStatsRequest())
    assert stats.calibration.close_max_distance == pytest.approx(measured["close_max_distance"])
    code, out, err = await run_cli(vrs, capsys, "eval", str(queries), "--json")
    labels = json.loads(out)["labels"]
    assert labels and set(labels) <= {"close", "similar", "weak"}
    assert sum(v["matches"] for v in labels.values()) == 16 * 8, "every answer labelled"
    if "close" in labels:
        assert labels["close"]["precision"] >= 0.9, "measured on the very queries it was set by"


async def test_calibrate_dry_run_keeps_nothing(
    vrs: Vrs, queries: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await run_cli(vrs, capsys, "calibrate", str(queries), "--dry-run")
    assert code == 0, err
    assert "not kept (--dry-run)" in out and "close    distance <=" in out
    stats = await vrs.embedder.GetStats(embedder_pb2.GetEmbedderStatsRequest())
    assert not stats.HasField("calibration")
    code, out, _ = await run_cli(vrs, capsys, "eval", str(queries), "--json")
    assert json.loads(out)["labels"] is None
