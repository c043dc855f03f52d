"""Concurrent Embed calls share forward passes and get exactly their own vectors back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import numpy as np
import pytest_asyncio

from services.composition import create_server
from services.embedder.runtimes.engine import InferenceEngine
from tests.support.factories import make_embedder, settings_for
from tests.support.images import product_jpeg
from vrs.v1 import common_pb2, embedder_pb2, embedder_pb2_grpc

if TYPE_CHECKING:
    from vrs.v1.embedder_pb2_grpc import EmbedderServiceAsyncStub

N = 12


@pytest_asyncio.fixture
async def stub(
    tmp_path: Path, effnet_engine: InferenceEngine
) -> AsyncIterator[EmbedderServiceAsyncStub]:
    # A generous wait makes the batching deterministic enough to count passes.
    embedder = make_embedder(effnet_engine, max_batch_size=32, max_batch_wait_ms=200)
    server, port = await create_server(settings_for(tmp_path), "embedder", image_embedder=embedder)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield embedder_pb2_grpc.EmbedderServiceStub(channel)
    await server.stop(1)
    await embedder.close()


def request(i: int) -> embedder_pb2.EmbedRequest:
    image = product_jpeg(["shirt", "shoes", "bag", "hat"][i % 4], seed=i)
    return embedder_pb2.EmbedRequest(images=[common_pb2.ImageSource(data=image)])


def vector(response: embedder_pb2.EmbedResponse) -> np.ndarray:
    return np.array(response.results[0].embedding.values, dtype=np.float32)


async def test_concurrent_calls_share_forward_passes(
    stub: EmbedderServiceAsyncStub, effnet_engine: InferenceEngine
) -> None:
    before = effnet_engine.forward_passes
    sequential = [vector(await stub.Embed(request(i))) for i in range(N)]
    sequential_passes = effnet_engine.forward_passes - before
    assert sequential_passes == N

    before = effnet_engine.forward_passes
    concurrent = await asyncio.gather(*(stub.Embed(request(i)) for i in range(N)))
    concurrent_passes = effnet_engine.forward_passes - before
    assert concurrent_passes < N / 2, f"{concurrent_passes} passes for {N} concurrent calls"

    for i, response in enumerate(concurrent):
        np.testing.assert_allclose(vector(response), sequential[i], rtol=1e-4, atol=1e-5)


async def test_one_call_with_many_images_is_one_pass(
    stub: EmbedderServiceAsyncStub, effnet_engine: InferenceEngine
) -> None:
    images = [request(i).images[0] for i in range(8)]
    before = effnet_engine.forward_passes
    response = await stub.Embed(embedder_pb2.EmbedRequest(images=images))
    assert effnet_engine.forward_passes - before == 1
    assert len(response.results) == 8
    assert response.dimension == 1280
