"""The shared fixtures (registered by tests/conftest.py): real engines, real stores, real Redis."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import pytest_asyncio
from qdrant_client import QdrantClient

from services.embedder.embedding.embedder import ImageEmbedder
from services.embedder.runtimes.engine import InferenceEngine
from tests.support.events_replica import Pipeline, replica_pipeline
from tests.support.factories import build_engine, make_embedder
from tests.support.random_catalog import index_random_catalog, search_vrs
from tests.support.redis_server import RedisServer
from tests.support.search_env import Vrs
from tests.support.stores import SEED_CATALOG, StoreFactory
from vrs.catalog.sample import generate
from vrs.settings import ImageSettings, StoreSettings
from vrs.store.base import VectorStore
from vrs.store.qdrant_edge_store import QdrantEdgeStore
from vrs.store.qdrant_server_store import QdrantServerStore

# The converted OpenVINO models of a test run live under build/ (which `.ci/run` clears), not
# in the user's cache: a clean run converts every model it uses for real.
TEST_OPENVINO_CACHE = Path(__file__).resolve().parents[2] / "build" / "openvino-cache"


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("VRS_MODEL_OPENVINO_CACHE_DIR", str(TEST_OPENVINO_CACHE))


@pytest.fixture(scope="session")
def sample_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real product photos when ../shared has them, else a catalog drawn on the fly
    (VRS_TEST_DRAWN_CATALOG=1 forces the drawn one, to check what a fresh machine sees)."""
    if (SEED_CATALOG / "catalog.csv").is_file() and not os.environ.get("VRS_TEST_DRAWN_CATALOG"):
        return SEED_CATALOG
    folder = tmp_path_factory.mktemp("drawn-catalog")
    generate(folder, per_category=25)
    return folder


@pytest.fixture(scope="session")
def effnet_engine() -> InferenceEngine:
    """efficientnet_lite0 with its real ImageNet weights: for tests of visual similarity."""
    return build_engine("efficientnet_lite0", "pretrained")


@pytest.fixture(scope="session")
def inception_engine() -> InferenceEngine:
    """Random-init Inception v3: right shapes and cost, no visual meaning."""
    return build_engine("inception_v3", "random")


@pytest_asyncio.fixture
async def effnet(effnet_engine: InferenceEngine) -> AsyncIterator[ImageEmbedder]:
    embedder = make_embedder(effnet_engine)
    yield embedder
    await embedder.close()


@pytest_asyncio.fixture
async def photo_embedder(
    effnet_engine: InferenceEngine, tmp_path: Path
) -> AsyncIterator[ImageEmbedder]:
    """efficientnet_lite0 whose process fetcher serves file:// URIs under tmp_path/photos
    (the web gateway's product photos)."""
    embedder = make_embedder(effnet_engine, ImageSettings(file_root=tmp_path / "photos"))
    yield embedder
    await embedder.close()


@pytest.fixture(params=["qdrant-client-memory", "qdrant-edge"])
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Opens a store of either adapter: the same tests run against both real engines."""
    opened: list[VectorStore] = []
    settings = StoreSettings(data_dir=tmp_path / "edge", indexing_threshold_kb=10)

    def open_store(model_id: str, dimension: int) -> VectorStore:
        store: VectorStore
        if request.param == "qdrant-edge":
            store = QdrantEdgeStore.open(settings, model_id, dimension)
        else:
            store = QdrantServerStore.open_for_writing(
                QdrantClient(":memory:"), settings, model_id, dimension
            )
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        store.close()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _quiet_access_logs() -> None:
    logging.getLogger("vrs.rpc.server").setLevel(logging.WARNING)


@pytest.fixture
def image_root(tmp_path: Path) -> Path:
    """An empty folder served as the file:// image root (VRS_IMAGE_FILE_ROOT)."""
    root = tmp_path / "images"
    root.mkdir()
    return root


@pytest_asyncio.fixture
async def image_root_embedder(
    effnet_engine: InferenceEngine, image_root: Path
) -> AsyncIterator[ImageEmbedder]:
    """efficientnet_lite0 whose fetcher serves file:// URIs under `image_root`."""
    embedder = make_embedder(effnet_engine, ImageSettings(file_root=image_root))
    yield embedder
    await embedder.close()


@pytest_asyncio.fixture
async def replica(
    image_root_embedder: ImageEmbedder, store_factory: StoreFactory, redis_server: RedisServer
) -> AsyncIterator[Pipeline]:
    """One embedder replica's events pipeline on a real Redis and either store adapter."""
    embedder = image_root_embedder
    store = store_factory(embedder.model_id, embedder.dimension)
    async with replica_pipeline(embedder, store, redis_server.url) as pipe:
        yield pipe


@pytest_asyncio.fixture
async def searching_vrs(
    tmp_path: Path, effnet: ImageEmbedder, store_factory: StoreFactory
) -> AsyncIterator[Vrs]:
    """Embedder and search in one server over either store adapter, empty catalog; selective
    filters go exact, broad ones walk the HNSW graph."""
    store = store_factory(effnet.model_id, effnet.dimension)
    async with search_vrs(tmp_path, effnet, store) as running:
        yield running


@pytest_asyncio.fixture
async def random_vrs(
    searching_vrs: Vrs, effnet: ImageEmbedder
) -> tuple[Vrs, list[dict[str, Any]], npt.NDArray[np.float32]]:
    """`searching_vrs` holding the random catalog; with its products and their vectors."""
    products, vectors = await index_random_catalog(searching_vrs, effnet)
    return searching_vrs, products, vectors
