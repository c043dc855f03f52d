"""`exact` on search requests and `vrs eval --ann-check`: exact search agrees with itself,
the HNSW index's recall against it is reported for the same queries, with and without a
selective price filter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import pytest_asyncio

from tests.support.eval_env import catalog_sample, index_entries, query_rows, query_set, run_cli
from tests.support.search_env import Vrs
from vrs.evaluation.recall import overlap_recall
from vrs.v1 import common_pb2, search_pb2

pytestmark = pytest.mark.slow


@pytest_asyncio.fixture
async def queries(vrs: Vrs, sample_catalog: Path, tmp_path: Path) -> Path:
    entries = catalog_sample(sample_catalog, per_category=8)
    await index_entries(vrs, entries)
    await vrs.store.optimize(timeout_s=None)  # the HNSW graph the check measures
    return query_set(entries[::4], tmp_path / "queries", per_product=1)


def image_query(queries: Path, row: dict[str, str], exact: bool) -> search_pb2.SearchByImageRequest:
    data = (queries.parent / row["image"]).read_bytes()
    return search_pb2.SearchByImageRequest(
        image=common_pb2.ImageSource(data=data), k=10, exact=exact
    )


async def test_exact_search_compared_with_itself_has_recall_one(vrs: Vrs, queries: Path) -> None:
    for row in query_rows(queries)[:3]:
        first = await vrs.search.SearchByImage(image_query(queries, row, exact=True))
        second = await vrs.search.SearchByImage(image_query(queries, row, exact=True))
        ids = [m.product_id for m in first.matches]
        assert len(ids) == 10
        assert overlap_recall([m.product_id for m in second.matches], ids) == 1.0


async def test_a_forced_search_mode_skips_the_servers_choice(vrs: Vrs, queries: Path) -> None:
    row = query_rows(queries)[0]
    before = vrs.store.calls["count"]
    for exact in (True, False):
        await vrs.search.SearchByImage(image_query(queries, row, exact=exact))
    assert vrs.store.calls["count"] == before, "the filtered set is counted only to choose"


async def test_ann_check_reports_hnsw_recall_against_exact_search(
    vrs: Vrs, queries: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await run_cli(vrs, capsys, "eval", str(queries), "--json", "--ann-check")
    assert code == 0, err
    check = json.loads(out)["ann_check"]
    assert check["k"] == 10 and check["queries"] == len(query_rows(queries))
    assert 0.0 <= check["recall_unfiltered"] <= 1.0
    assert check["max_price"] > 0
    assert 0.0 <= check["recall_price_filtered"] <= 1.0


async def test_ann_check_in_the_text_report(
    vrs: Vrs, queries: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await run_cli(vrs, capsys, "eval", str(queries), "--ann-check")
    assert code == 0, err
    assert "ANN check (recall@10 of HNSW against exact search" in out
    assert "price <= " in out
