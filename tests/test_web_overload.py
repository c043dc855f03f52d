"""Overload and model mismatch through the HTTP API: 429 beyond the embedder's queues (the
others still answered), 409 when the embedder's model is not the catalog's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest_asyncio

from services.embedder.embedding.embedder import ImageEmbedder
from services.embedder.runtimes.engine import InferenceEngine
from tests.support.factories import make_embedder
from tests.support.images import product_jpeg
from tests.support.web_env import WebVrs, running_web

LIVENESS_S = 60.0


@pytest_asyncio.fixture
async def tight_model_queue(inception_engine: InferenceEngine) -> AsyncIterator[ImageEmbedder]:
    """One image per forward pass, two waiting at most."""
    embedder = make_embedder(inception_engine, max_batch_size=1, max_queue=2)
    yield embedder
    await embedder.close()


async def upload(web: WebVrs, seed: int) -> httpx.Response:
    files = {"image": ("shirt.jpg", product_jpeg(seed=seed), "image/jpeg")}
    return await web.http.post("/v1/search/image", files=files)


async def test_a_burst_beyond_the_embedder_queue_gets_429_and_the_rest_answers(
    tmp_path: Path, tight_model_queue: ImageEmbedder
) -> None:
    async with running_web(tmp_path, tight_model_queue) as web:
        # Distinct photos: identical ones would share one embedding (single-flight).
        answers = await asyncio.wait_for(
            asyncio.gather(*(upload(web, seed) for seed in range(16))), LIVENESS_S
        )
    statuses = {a.status_code for a in answers}
    assert statuses == {200, 429}, [a.text for a in answers]
    refused = [a.json()["error"] for a in answers if a.status_code == 429]
    assert all(e["code"] == "RESOURCE_EXHAUSTED" for e in refused)
    assert all("queue is full" in e["message"] for e in refused)


async def test_an_embedder_of_another_model_than_the_catalog_is_a_409(
    tmp_path: Path, effnet: ImageEmbedder
) -> None:
    async with running_web(tmp_path, effnet, store_model_id="other_model@00000000") as web:
        response = await upload(web, 1)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "FAILED_PRECONDITION"
    assert "model" in error["message"]
