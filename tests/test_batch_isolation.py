"""One bad item of a batch (bad URI, empty query, a bug) fails alone over real gRPC; the good
items of Embed, UpsertProducts and BatchSearch still complete."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from services.embedder.runtimes.engine import InferenceEngine
from tests.support.faulty import BUG_SECRET, BUG_TRIGGER, running_buggy_vrs
from tests.support.images import product_jpeg
from tests.support.search_env import Vrs
from vrs.v1 import common_pb2, embedder_pb2, search_pb2

MALFORMED_URIS = {
    "http://[::1": "cannot be parsed",
    "http://h:abc/x.jpg": "port is not a number",
    "http://h:99999/x.jpg": "port is not a number",
    "http://h\tx/x.jpg": "control",
}


@pytest_asyncio.fixture
async def vrs(tmp_path: Path, effnet_engine: InferenceEngine) -> AsyncIterator[Vrs]:
    async with running_buggy_vrs(tmp_path, effnet_engine) as running:
        yield running


def image(data: bytes = b"", uri: str | None = None) -> common_pb2.ImageSource:
    return common_pb2.ImageSource(uri=uri) if uri is not None else common_pb2.ImageSource(data=data)


def upsert_item(pid: str, source: common_pb2.ImageSource) -> embedder_pb2.ProductUpsert:
    return embedder_pb2.ProductUpsert(
        product=common_pb2.ProductAttributes(product_id=pid, price=10.0), image=source
    )


def image_query(source: common_pb2.ImageSource) -> search_pb2.SearchQuery:
    return search_pb2.SearchQuery(by_image=search_pb2.SearchByImageRequest(image=source, k=3))


async def test_embed_answers_good_images_and_refuses_each_malformed_uri(vrs: Vrs) -> None:
    response = await vrs.embedder.Embed(
        embedder_pb2.EmbedRequest(
            images=[image(product_jpeg()), *(image(uri=u) for u in MALFORMED_URIS)]
        )
    )
    assert response.results[0].HasField("embedding")
    for result, reason in zip(response.results[1:], MALFORMED_URIS.values(), strict=True):
        assert result.error.code == common_pb2.INVALID_ARGUMENT
        assert reason in result.error.message


async def test_embed_bug_in_one_image_is_internal_for_that_image_alone(vrs: Vrs) -> None:
    response = await vrs.embedder.Embed(
        embedder_pb2.EmbedRequest(images=[image(BUG_TRIGGER), image(product_jpeg())])
    )
    assert response.results[0].error.code == common_pb2.INTERNAL
    assert BUG_SECRET not in response.results[0].error.message
    assert response.results[1].HasField("embedding")


async def test_upsert_keeps_good_items_beside_malformed_uris_and_missing_images(vrs: Vrs) -> None:
    items = [
        upsert_item("good", image(product_jpeg())),
        *(upsert_item(f"bad-{i}", image(uri=u)) for i, u in enumerate(MALFORMED_URIS)),
        upsert_item("no-image", common_pb2.ImageSource()),
    ]
    response = await vrs.embedder.UpsertProducts(embedder_pb2.UpsertProductsRequest(items=items))
    outcomes = [r.outcome for r in response.results]
    assert outcomes[0] == embedder_pb2.UPSERT_OUTCOME_UPSERTED
    assert outcomes[1:] == [embedder_pb2.UPSERT_OUTCOME_FAILED] * (len(items) - 1)
    assert {r.error.code for r in response.results[1:]} == {common_pb2.INVALID_ARGUMENT}
    assert [r.product_id for r in response.results] == [i.product.product_id for i in items]
    stored = await vrs.embedder.GetProducts(
        embedder_pb2.GetProductsRequest(product_ids=["good", "bad-0", "no-image"])
    )
    assert [p.product_id for p in stored.products] == ["good"]


async def test_upsert_bug_in_one_item_is_internal_for_that_item_alone(vrs: Vrs) -> None:
    response = await vrs.embedder.UpsertProducts(
        embedder_pb2.UpsertProductsRequest(
            items=[
                upsert_item("buggy", image(BUG_TRIGGER)),
                upsert_item("ok", image(product_jpeg())),
            ]
        )
    )
    buggy, ok = response.results
    assert buggy.outcome == embedder_pb2.UPSERT_OUTCOME_FAILED
    assert buggy.error.code == common_pb2.INTERNAL
    assert BUG_SECRET not in buggy.error.message
    assert ok.outcome == embedder_pb2.UPSERT_OUTCOME_UPSERTED


async def test_batch_search_empty_query_fails_alone(vrs: Vrs) -> None:
    response = await vrs.search.BatchSearch(
        search_pb2.BatchSearchRequest(
            queries=[search_pb2.SearchQuery(), image_query(image(product_jpeg()))]
        )
    )
    empty, answered = response.results
    assert empty.error.code == common_pb2.INVALID_ARGUMENT
    assert "query 0 of the batch is empty" in empty.error.message
    assert answered.HasField("response")


@pytest.mark.parametrize(("uri", "reason"), list(MALFORMED_URIS.items()), ids=repr)
async def test_batch_search_malformed_uri_fails_alone(vrs: Vrs, uri: str, reason: str) -> None:
    response = await vrs.search.BatchSearch(
        search_pb2.BatchSearchRequest(
            queries=[image_query(image(uri=uri)), image_query(image(product_jpeg()))]
        )
    )
    refused, answered = response.results
    assert refused.error.code == common_pb2.INVALID_ARGUMENT
    assert reason in refused.error.message
    assert answered.HasField("response")


async def test_batch_search_bug_in_one_query_is_internal_for_that_query_alone(vrs: Vrs) -> None:
    response = await vrs.search.BatchSearch(
        search_pb2.BatchSearchRequest(
            queries=[image_query(image(BUG_TRIGGER)), image_query(image(product_jpeg()))]
        )
    )
    buggy, answered = response.results
    assert buggy.error.code == common_pb2.INTERNAL
    assert BUG_SECRET not in buggy.error.message
    assert answered.HasField("response")
