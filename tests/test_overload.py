"""Overload: beyond the embedder's queues, images get RESOURCE_EXHAUSTED at once, the others
still embed, and nothing hangs."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest_asyncio

from services.embedder.embedding.embedder import ImageEmbedder
from services.embedder.runtimes.engine import InferenceEngine
from tests.support.big_png import big_rgba_png
from tests.support.factories import make_embedder
from tests.support.images import product_jpeg
from tests.support.servers import RunningEmbedder, embedder_server
from vrs.v1 import common_pb2, embedder_pb2

LIVENESS_S = 60.0
EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED
CODE_EXHAUSTED = EXHAUSTED.value[0]


@functools.cache
def slow_image() -> bytes:
    """A 4-megapixel PNG: its decode takes long enough for a batch's other images to queue."""
    return big_rgba_png(2000, 2000)


def embed_request(*images: bytes) -> embedder_pb2.EmbedRequest:
    return embedder_pb2.EmbedRequest(images=[common_pb2.ImageSource(data=d) for d in images])


@pytest_asyncio.fixture
async def tight_model_queue(inception_engine: InferenceEngine) -> AsyncIterator[ImageEmbedder]:
    """One image per forward pass, two waiting at most."""
    embedder = make_embedder(inception_engine, max_batch_size=1, max_queue=2)
    yield embedder
    await embedder.close()


@pytest_asyncio.fixture
async def tight_decode_queue(inception_engine: InferenceEngine) -> AsyncIterator[ImageEmbedder]:
    """Two images decoding or waiting for a decode thread, at most."""
    embedder = make_embedder(inception_engine, decode_workers=1, max_decode_queue=2)
    yield embedder
    await embedder.close()


async def burst(running: RunningEmbedder, calls: int) -> list[tuple[grpc.StatusCode, str]]:
    """Concurrent single-image Embed calls; (code, message) of each, in completion order."""
    finished: list[tuple[grpc.StatusCode, str]] = []

    async def call(i: int) -> None:
        try:
            await running.stub.Embed(embed_request(product_jpeg(seed=i)))
        except grpc.aio.AioRpcError as exc:
            finished.append((exc.code(), exc.details() or ""))
        else:
            finished.append((grpc.StatusCode.OK, ""))

    await asyncio.wait_for(asyncio.gather(*(call(i) for i in range(calls))), LIVENESS_S)
    return finished


async def test_a_burst_beyond_the_model_queue_gets_resource_exhausted_at_once(
    tmp_path: Path, tight_model_queue: ImageEmbedder
) -> None:
    async with embedder_server(tmp_path, tight_model_queue) as running:
        finished = await burst(running, 16)
    codes = [code for code, _ in finished]
    assert set(codes) == {grpc.StatusCode.OK, EXHAUSTED}, finished
    assert all("queue is full" in message for code, message in finished if code == EXHAUSTED)
    # Refused without waiting: every refusal came back before the last accepted image, which
    # still had at least the two queued images' passes to wait for.
    last_ok = max(i for i, code in enumerate(codes) if code == grpc.StatusCode.OK)
    assert all(i < last_ok for i, code in enumerate(codes) if code == EXHAUSTED), codes


async def test_the_embedder_serves_again_once_a_burst_is_over(
    tmp_path: Path, tight_model_queue: ImageEmbedder
) -> None:
    async with embedder_server(tmp_path, tight_model_queue) as running:
        await burst(running, 16)
        response = await running.stub.Embed(embed_request(product_jpeg(seed=1)))
    assert response.results[0].HasField("embedding")


async def test_images_beyond_the_decode_queue_fail_alone_in_an_embed_batch(
    tmp_path: Path, tight_decode_queue: ImageEmbedder
) -> None:
    async with embedder_server(tmp_path, tight_decode_queue) as running:
        response = await running.stub.Embed(embed_request(*[slow_image()] * 4))
    embedded = [r for r in response.results if r.HasField("embedding")]
    refused = [r.error for r in response.results if r.HasField("error")]
    assert len(embedded) == 2
    assert [e.code for e in refused] == [CODE_EXHAUSTED, CODE_EXHAUSTED]
    assert all("decode queue is full" in e.message for e in refused)


async def test_an_upsert_beyond_the_decode_queue_keeps_the_products_that_fit(
    tmp_path: Path, tight_decode_queue: ImageEmbedder
) -> None:
    items = [
        embedder_pb2.ProductUpsert(
            product=common_pb2.ProductAttributes(product_id=f"p{i}", price=10.0),
            image=common_pb2.ImageSource(data=slow_image()),
        )
        for i in range(4)
    ]
    async with embedder_server(tmp_path, tight_decode_queue) as running:
        response = await running.stub.UpsertProducts(
            embedder_pb2.UpsertProductsRequest(items=items)
        )
        upserted = [r.product_id for r in response.results if not r.HasField("error")]
        stored = await running.stub.GetProducts(
            embedder_pb2.GetProductsRequest(product_ids=[f"p{i}" for i in range(4)])
        )
    assert len(upserted) == 2
    assert [r.error.code for r in response.results if r.HasField("error")] == [CODE_EXHAUSTED] * 2
    assert sorted(p.product_id for p in stored.products) == sorted(upserted)
