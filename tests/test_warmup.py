"""The model runs one warm-up pass before the embedder reports SERVING."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.embedder.embedding.embedder import ImageEmbedder
from services.embedder.models.backbones import BACKBONES
from services.embedder.models.weights import load_model
from services.embedder.runtimes.engine import InferenceEngine
from tests.support.factories import make_embedder
from tests.support.servers import embedder_server
from vrs.settings import ModelSettings
from vrs.v1 import embedder_pb2


@pytest_asyncio.fixture
async def cold_embedder() -> AsyncIterator[ImageEmbedder]:
    """An embedder whose engine has never run (the shared test engines have)."""
    settings = ModelSettings(backbone="efficientnet_lite0", weights="random")
    spec = BACKBONES[settings.backbone]
    embedder = make_embedder(InferenceEngine(spec, load_model(spec, settings), settings))
    yield embedder
    await embedder.close()


async def test_the_model_has_run_once_when_the_server_reports_serving(
    tmp_path: Path, cold_embedder: ImageEmbedder
) -> None:
    assert cold_embedder.engine.warm_up_passes == 0
    async with embedder_server(tmp_path, cold_embedder) as running:
        health = await health_pb2_grpc.HealthStub(running.channel).Check(
            health_pb2.HealthCheckRequest()
        )
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        assert cold_embedder.engine.warm_up_passes == 1


async def test_the_warm_up_is_not_counted_as_embedded_images(
    tmp_path: Path, cold_embedder: ImageEmbedder
) -> None:
    async with embedder_server(tmp_path, cold_embedder) as running:
        stats = await running.stub.GetStats(embedder_pb2.GetEmbedderStatsRequest())
    assert (stats.forward_passes, stats.images_embedded) == (0, 0)
