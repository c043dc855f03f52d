"""The CLI applies the product-id rule: normalised ids reach the same products as the RPCs,
and a bad id fails its own record of an index or import, never the whole run or a traceback.
The CLI runs in a thread against a real server on the test's event loop."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import numpy as np
import pytest

from services.cli.main import main
from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.images import product_jpeg
from tests.support.products import unit_vector
from tests.support.search_env import Vrs
from vrs.v1 import embedder_pb2


async def cli(vrs: Vrs, *args: str) -> int:
    return await asyncio.to_thread(main, ["--address", f"127.0.0.1:{vrs.server.port}", *args])


async def stored_ids(vrs: Vrs, *ids: str) -> list[str]:
    response = await vrs.embedder.GetProducts(embedder_pb2.GetProductsRequest(product_ids=ids))
    return [p.product_id for p in response.products]


async def test_import_vectors_normalises_ids_and_a_bad_one_fails_alone(
    vrs: Vrs, effnet: ImageEmbedder, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "vectors.npz"
    ids = np.array([" v-1 ", "v\u202e2", "cafe\u0301"])
    np.savez(path, ids=ids, vectors=np.stack([unit_vector(effnet.dimension, n) for n in range(3)]))
    code = await cli(vrs, "import-vectors", str(path), "--model-id", effnet.model_id)
    out = capsys.readouterr().out
    assert code == 1
    assert "imported 2, unchanged 0, failed 1" in out
    assert "U+202E RIGHT-TO-LEFT OVERRIDE" in out
    assert await stored_ids(vrs, "v-1", "caf\xe9") == ["v-1", "caf\xe9"]


async def test_index_normalises_ids_and_a_bad_one_fails_alone(
    vrs: Vrs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "shirt.jpg").write_bytes(product_jpeg("shirt", 1))
    catalog = tmp_path / "catalog.csv"
    with catalog.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["product_id", "title", "image"])
        writer.writerow(["\u3000shirt-1", "Shirt", "shirt.jpg"])
        writer.writerow(["shirt\u200b2", "Shirt 2", "shirt.jpg"])
    code = await cli(vrs, "index", str(catalog))
    out = capsys.readouterr().out
    assert code == 1
    assert "indexed 1 (new or changed), unchanged 0, failed 1" in out
    assert "U+200B ZERO WIDTH SPACE" in out
    assert await stored_ids(vrs, "shirt-1") == ["shirt-1"]


async def test_delete_and_similar_reach_a_product_by_an_id_that_normalises_to_it(
    vrs: Vrs, effnet: ImageEmbedder, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "vectors.npz"
    vectors = np.stack([unit_vector(effnet.dimension, n) for n in range(2)])
    np.savez(path, ids=np.array(["pad-1", "pad-2"]), vectors=vectors)
    assert await cli(vrs, "import-vectors", str(path), "--model-id", effnet.model_id) == 0
    assert await cli(vrs, "similar", "--product", " pad-1 ") == 0
    assert "pad-2" in capsys.readouterr().out
    assert await cli(vrs, "delete", " pad-1 ") == 0
    assert "deleted 1" in capsys.readouterr().out
    assert await stored_ids(vrs, "pad-1", "pad-2") == ["pad-2"]
