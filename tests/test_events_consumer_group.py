"""Two consumers of one group split the stream between them, applying every event once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from services.embedder.embedding import ImageEmbedder
from services.embedder.model.engine import InferenceEngine
from tests.support.events_pipeline import STREAM, sync_redis
from tests.support.events_replica import Pipeline, replica_pipeline
from tests.support.events_scenario import assert_store_equals, drained, publish_scenario
from tests.support.factories import make_embedder
from tests.support.redis_server import RedisServer
from tests.support.stores import StoreFactory
from vrs.settings import ImageSettings

pytestmark = pytest.mark.slow


@pytest_asyncio.fixture
async def image_root(tmp_path: Path) -> Path:
    root = tmp_path / "images"
    root.mkdir()
    return root


@pytest_asyncio.fixture
async def embedder(
    effnet_engine: InferenceEngine, image_root: Path
) -> AsyncIterator[ImageEmbedder]:
    e = make_embedder(effnet_engine, ImageSettings(file_root=image_root))
    yield e
    await e.close()


@pytest_asyncio.fixture
async def pipeline(
    embedder: ImageEmbedder, store_factory: StoreFactory, redis_server: RedisServer
) -> AsyncIterator[Pipeline]:
    store = store_factory(embedder.model_id, embedder.dimension)
    async with replica_pipeline(embedder, store, redis_server.url) as pipe:
        yield pipe


async def test_two_consumers_split_the_work_applying_each_event_once(
    pipeline: Pipeline, image_root: Path
) -> None:
    client = sync_redis(pipeline.redis_url)
    client.xgroup_create(STREAM, "embedders", id="0", mkstream=True)
    scenario = publish_scenario(client, image_root, n=200, seed=9)
    applied: dict[str, list[str]] = {"a": [], "b": []}
    await pipeline.consumer("a", on_applied=applied["a"].append, batch_size=8)
    await pipeline.consumer("b", on_applied=applied["b"].append, batch_size=8)
    await drained(client, dead=scenario.poison)
    every = applied["a"] + applied["b"]
    assert len(every) == len(set(every)), "no event applied twice"
    assert applied["a"] and applied["b"], "both consumers took a share"
    acked = sum(c.counters.processed for c in pipeline.consumers)
    assert acked == scenario.total - scenario.poison, "every valid event acknowledged once"
    assert_store_equals(pipeline.store, scenario.expected)
