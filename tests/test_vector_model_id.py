"""A precomputed vector must say which model computed it: without a model_id it is refused
(over real gRPC, unary and streaming), and the other items of its batch still land."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.products import unit_vector, vector_upsert
from tests.support.servers import RunningEmbedder, embedder_server
from tests.support.stores import StoreFactory
from vrs.v1 import common_pb2, embedder_pb2

OUT = embedder_pb2


@pytest_asyncio.fixture
async def svc(
    tmp_path: Path, effnet: ImageEmbedder, store_factory: StoreFactory
) -> AsyncIterator[RunningEmbedder]:
    store = store_factory(effnet.model_id, effnet.dimension)
    async with embedder_server(tmp_path, effnet, store) as running:
        yield running


async def points(svc: RunningEmbedder) -> int:
    return int((await svc.stub.GetStats(OUT.GetEmbedderStatsRequest())).index.points)


async def test_a_vector_without_model_id_is_refused_and_the_others_land(
    svc: RunningEmbedder, effnet: ImageEmbedder
) -> None:
    vector = unit_vector(effnet.dimension, 1)
    response = await svc.stub.UpsertProducts(
        OUT.UpsertProductsRequest(
            items=[
                vector_upsert("with-model", vector, effnet.model_id),
                vector_upsert("no-model", vector, ""),
            ]
        )
    )
    good, bad = response.results
    assert good.outcome == OUT.UPSERT_OUTCOME_UPSERTED
    assert (bad.outcome, bad.error.code) == (OUT.UPSERT_OUTCOME_FAILED, common_pb2.INVALID_ARGUMENT)
    assert "vector for product 'no-model' has no model_id" in bad.error.message
    assert effnet.model_id in bad.error.message, "says which model the collection holds"
    assert await points(svc) == 1


async def test_a_streamed_vector_without_model_id_is_refused(
    svc: RunningEmbedder, effnet: ImageEmbedder
) -> None:
    async def batches() -> AsyncIterator[OUT.UpsertProductsRequest]:
        yield OUT.UpsertProductsRequest(
            items=[
                vector_upsert("s-1", unit_vector(effnet.dimension, 1), effnet.model_id),
                vector_upsert("s-2", unit_vector(effnet.dimension, 2), ""),
            ]
        )

    summary = await svc.stub.StreamUpsertProducts(batches())
    assert (summary.upserted, summary.failed) == (1, 1)
    assert summary.failures[0].product_id == "s-2"
    assert "has no model_id" in summary.failures[0].error.message
    assert await points(svc) == 1
