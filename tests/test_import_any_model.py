"""Vectors of any model, imported beside the server's own: a collection per model that
answers more-like-this, refuses image queries no embedder can embed, and never loses a
product's attributes to a vector-only import."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import grpc
import numpy as np
import pytest

from services.cli.main import main
from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.images import product_jpeg
from tests.support.model_vectors import (
    LEGACY_DIMENSION,
    LEGACY_MODEL,
    legacy_vectors,
    nearest_ids,
    vector_upsert,
)
from tests.support.search_env import Vrs
from vrs.v1 import common_pb2, embedder_pb2, search_pb2

IDS = [f"old-{i:02d}" for i in range(12)]


async def upsert(vrs: Vrs, *items: embedder_pb2.ProductUpsert) -> list[embedder_pb2.UpsertResult]:
    response = await vrs.embedder.UpsertProducts(embedder_pb2.UpsertProductsRequest(items=items))
    return list(response.results)


async def imported(vrs: Vrs) -> np.ndarray:
    vectors = legacy_vectors(len(IDS))
    results = await upsert(
        vrs, *(vector_upsert(pid, v) for pid, v in zip(IDS, vectors, strict=True))
    )
    assert {r.outcome for r in results} == {embedder_pb2.UPSERT_OUTCOME_UPSERTED}, results
    return vectors


async def test_vectors_of_another_model_answer_more_like_this_by_model_id(vrs: Vrs) -> None:
    vectors = await imported(vrs)
    response = await vrs.search.SearchByProduct(
        search_pb2.SearchByProductRequest(product_id="old-04", k=5, model_id=LEGACY_MODEL)
    )
    assert [m.product_id for m in response.matches] == nearest_ids(vectors, IDS, 4, 5)
    assert response.model_id == LEGACY_MODEL


async def test_vectors_of_another_model_stay_out_of_the_servers_collection(vrs: Vrs) -> None:
    await imported(vrs)
    stats = await vrs.search.GetStats(search_pb2.GetSearchStatsRequest())
    assert stats.points == 0
    own = vrs.search.SearchByProduct(search_pb2.SearchByProductRequest(product_id="old-04"))
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await own
    assert failure.value.code() == grpc.StatusCode.NOT_FOUND


async def test_an_image_query_for_a_model_no_embedder_runs_is_failed_precondition(
    vrs: Vrs,
) -> None:
    await imported(vrs)
    query = search_pb2.SearchByImageRequest(
        image=common_pb2.ImageSource(data=product_jpeg("shirt", 1)), model_id=LEGACY_MODEL
    )
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await vrs.search.SearchByImage(query)
    assert failure.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert f"no embedder runs model {LEGACY_MODEL!r}" in (failure.value.details() or "")


async def test_more_like_this_in_a_model_never_imported_is_not_found(vrs: Vrs) -> None:
    query = search_pb2.SearchByProductRequest(product_id="old-01", model_id="never@seen")
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await vrs.search.SearchByProduct(query)
    assert failure.value.code() == grpc.StatusCode.NOT_FOUND
    assert "no collection of model 'never@seen'" in (failure.value.details() or "")


async def test_a_vector_of_the_wrong_size_fails_alone(vrs: Vrs) -> None:
    await imported(vrs)
    good, bad = legacy_vectors(1, seed=9)[0], np.ones(LEGACY_DIMENSION + 1, dtype=np.float32)
    results = await upsert(vrs, vector_upsert("new-good", good), vector_upsert("new-bad", bad))
    assert results[0].outcome == embedder_pb2.UPSERT_OUTCOME_UPSERTED
    assert results[1].outcome == embedder_pb2.UPSERT_OUTCOME_FAILED
    assert results[1].error.code == common_pb2.INVALID_ARGUMENT


async def test_an_odd_sized_first_vector_does_not_size_a_new_collection(vrs: Vrs) -> None:
    odd = np.ones(LEGACY_DIMENSION + 1, dtype=np.float32)
    good = legacy_vectors(2)
    results = await upsert(
        vrs,
        vector_upsert("odd", odd),
        vector_upsert("good-1", good[0]),
        vector_upsert("good-2", good[1]),
    )
    assert [r.outcome for r in results] == [
        embedder_pb2.UPSERT_OUTCOME_FAILED,
        embedder_pb2.UPSERT_OUTCOME_UPSERTED,
        embedder_pb2.UPSERT_OUTCOME_UPSERTED,
    ]


async def test_a_known_backbones_vectors_of_another_size_are_refused(vrs: Vrs) -> None:
    vector = legacy_vectors(1)[0]
    results = await upsert(vrs, vector_upsert("x", vector, model_id="inception_v3@2015"))
    assert results[0].error.code == common_pb2.FAILED_PRECONDITION
    assert "makes 2048-d vectors" in results[0].error.message


async def test_reimporting_a_vector_of_another_model_keeps_its_attributes(vrs: Vrs) -> None:
    first, second = legacy_vectors(2, seed=4)
    await upsert(vrs, vector_upsert("old-a", first, title="Blue dress", price=30.0, brand="Acme"))
    again = await upsert(vrs, vector_upsert("old-a", second))
    assert again[0].outcome == embedder_pb2.UPSERT_OUTCOME_UPSERTED
    await upsert(vrs, vector_upsert("old-b", first))
    response = await vrs.search.SearchByProduct(
        search_pb2.SearchByProductRequest(product_id="old-b", k=1, model_id=LEGACY_MODEL)
    )
    product = response.matches[0].product
    assert (product.product_id, product.title, product.price, product.brand) == (
        "old-a",
        "Blue dress",
        30.0,
        "Acme",
    )


async def test_importing_a_vector_for_an_indexed_product_keeps_its_attributes(
    vrs: Vrs, effnet: ImageEmbedder
) -> None:
    indexed = embedder_pb2.ProductUpsert(
        product=common_pb2.ProductAttributes(
            product_id="shirt-1", title="Red shirt", price=12.5, currency="EUR", category="shirt"
        ),
        image=common_pb2.ImageSource(data=product_jpeg("shirt", 1)),
    )
    await upsert(vrs, indexed)
    vector = common_pb2.Embedding(values=[0.25] * effnet.dimension, model_id=effnet.model_id)
    results = await upsert(
        vrs,
        embedder_pb2.ProductUpsert(
            product=common_pb2.ProductAttributes(product_id="shirt-1"), vector=vector
        ),
    )
    assert results[0].outcome == embedder_pb2.UPSERT_OUTCOME_UPSERTED
    found = await vrs.embedder.GetProducts(embedder_pb2.GetProductsRequest(product_ids=["shirt-1"]))
    product = found.products[0]
    assert (product.title, product.price, product.currency, product.category) == (
        "Red shirt",
        12.5,
        "EUR",
        "shirt",
    )


async def test_a_products_new_collection_takes_its_catalog_attributes(vrs: Vrs) -> None:
    indexed = embedder_pb2.ProductUpsert(
        product=common_pb2.ProductAttributes(product_id="shirt-1", title="Red shirt", price=9.0),
        image=common_pb2.ImageSource(data=product_jpeg("shirt", 1)),
    )
    await upsert(vrs, indexed)
    vectors = legacy_vectors(2)
    await upsert(vrs, vector_upsert("shirt-1", vectors[0]), vector_upsert("other", vectors[1]))
    response = await vrs.search.SearchByProduct(
        search_pb2.SearchByProductRequest(product_id="other", k=1, model_id=LEGACY_MODEL)
    )
    assert (response.matches[0].product.title, response.matches[0].product.price) == (
        "Red shirt",
        9.0,
    )


def write_catalog(path: Path, rows: list[dict[str, str]]) -> None:
    columns = ["product_id", "title", "category", "brand", "price", "currency", "image"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(rows)


async def test_cli_imports_with_catalog_attributes_and_finds_similar_by_model_id(
    vrs: Vrs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    vectors = legacy_vectors(len(IDS))
    npz = tmp_path / "legacy.npz"
    np.savez(npz, ids=np.array(IDS), vectors=vectors)
    catalog = tmp_path / "catalog.csv"
    write_catalog(
        catalog,
        [
            {"product_id": pid, "title": f"Old {pid}", "category": "dress", "price": str(10 + i)}
            | {"brand": "", "currency": "USD", "image": f"images/{pid}.jpg"}
            for i, pid in enumerate(IDS)
        ],
    )
    address = ["--address", f"127.0.0.1:{vrs.server.port}"]
    imported = await asyncio.to_thread(
        main,
        [
            *address,
            "import-vectors",
            str(npz),
            "--model-id",
            LEGACY_MODEL,
            "--catalog",
            str(catalog),
        ],
    )
    assert imported == 0, capsys.readouterr().err
    assert f"attributes from catalog.csv: {len(IDS)} of {len(IDS)}" in capsys.readouterr().out
    found = await asyncio.to_thread(
        main, [*address, "similar", "--product", "old-03", "-k", "3", "--model-id", LEGACY_MODEL]
    )
    out = capsys.readouterr().out
    assert found == 0
    rows = [line.split() for line in out.splitlines()[1:4]]
    assert [row[1] for row in rows] == nearest_ids(vectors, IDS, 3, 3)
    assert all(
        row[3:7] == [str(10 + IDS.index(row[1])) + ".00", "USD", "dress", "Old"] for row in rows
    )
    assert f"model {LEGACY_MODEL}" in out
