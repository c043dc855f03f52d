"""The shared fixtures (registered by tests/conftest.py): real engines, real stores, real Redis,
a running vrs and a catalog-events pipeline.

A test module says only what is special about its own: it overrides `vrs` with one built by
`start_vrs` (its store, its settings, its catalog), and `embedder_engine` or `image_settings`
to change `embedder` (and so `pipeline`).

The model stack (torch) is imported inside the fixtures that need it: tests that start nothing
do not pay for it here.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pytest
import pytest_asyncio
from qdrant_client import QdrantClient

from tests.support.redis_server import RedisServer
from tests.support.search_env import Vrs, VrsStarter, running_vrs
from tests.support.stores import SEED_CATALOG, StoreFactory
from vrs.catalog.sample import generate
from vrs.settings import ImageSettings, StoreSettings
from vrs.store.base import VectorStore
from vrs.store.qdrant_edge_store import QdrantEdgeStore
from vrs.store.qdrant_server_store import QdrantServerStore

if TYPE_CHECKING:
    from services.embedder.embedding.embedder import ImageEmbedder
    from services.embedder.runtimes.engine import InferenceEngine
    from tests.support.events_pipeline import EventsPipeline
    from tests.support.events_replica import Pipeline

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
    from tests.support.factories import build_engine

    return build_engine("efficientnet_lite0", "pretrained")


@pytest.fixture(scope="session")
def inception_engine() -> InferenceEngine:
    """Random-init Inception v3: right shapes and cost, no visual meaning."""
    from tests.support.factories import build_engine

    return build_engine("inception_v3", "random")


@pytest_asyncio.fixture
async def effnet(effnet_engine: InferenceEngine) -> AsyncIterator[ImageEmbedder]:
    from tests.support.factories import open_embedder

    async with open_embedder(effnet_engine) as embedder:
        yield embedder


@pytest_asyncio.fixture
async def photo_embedder(
    effnet_engine: InferenceEngine, tmp_path: Path
) -> AsyncIterator[ImageEmbedder]:
    """efficientnet_lite0 whose process fetcher serves file:// URIs under tmp_path/photos
    (the web gateway's product photos)."""
    from tests.support.factories import open_embedder

    async with open_embedder(effnet_engine, ImageSettings(file_root=tmp_path / "photos")) as e:
        yield e


@pytest.fixture
def embedder_engine(effnet_engine: InferenceEngine) -> InferenceEngine:
    """The engine of `embedder`: efficientnet_lite0; a module overrides this fixture to use
    another (`inception_engine` when what the vectors mean does not matter)."""
    return effnet_engine


@pytest.fixture
def image_settings() -> ImageSettings:
    """How `embedder` fetches images: the defaults; a module overrides this fixture to allow
    hosts, serve a file root or bound the sizes."""
    return ImageSettings()


@pytest_asyncio.fixture
async def embedder(
    embedder_engine: InferenceEngine, image_settings: ImageSettings
) -> AsyncIterator[ImageEmbedder]:
    """An embedder on `embedder_engine` with its own fetcher, as `image_settings` say."""
    from tests.support.factories import open_embedder

    async with open_embedder(embedder_engine, image_settings) as built:
        yield built


@pytest_asyncio.fixture
async def pipeline(
    embedder: ImageEmbedder, redis_server: RedisServer, tmp_path: Path
) -> AsyncIterator[EventsPipeline]:
    """`embedder`'s catalog-events pipeline (writer, applier, consumers) on a real Redis and a
    real Qdrant Edge store."""
    from tests.support.events_pipeline import events_pipeline

    async with events_pipeline(embedder, redis_server.url, tmp_path / "edge") as pipe:
        yield pipe


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
def memory_store(tmp_path: Path, effnet: ImageEmbedder) -> Iterator[VectorStore]:
    """A real qdrant-client ':memory:' store for `effnet`: one engine is enough when the store
    is not the point (a cache, metrics, TLS)."""
    from tests.support.cache_env import memory_store

    store = memory_store(tmp_path, effnet)
    yield store
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
    from tests.support.factories import open_embedder

    async with open_embedder(effnet_engine, ImageSettings(file_root=image_root)) as embedder:
        yield embedder


@pytest_asyncio.fixture
async def replica(
    image_root_embedder: ImageEmbedder, store_factory: StoreFactory, redis_server: RedisServer
) -> AsyncIterator[Pipeline]:
    """One embedder replica's events pipeline on a real Redis and either store adapter."""
    from tests.support.events_replica import replica_pipeline

    embedder = image_root_embedder
    store = store_factory(embedder.model_id, embedder.dimension)
    async with replica_pipeline(embedder, store, redis_server.url) as pipe:
        yield pipe


@pytest_asyncio.fixture
async def start_vrs(tmp_path: Path, effnet: ImageEmbedder) -> AsyncIterator[VrsStarter]:
    """Starts embedder and search in one server on `effnet`, serving the store given with the
    settings sections given (over the test defaults); each one is stopped after the test."""
    async with AsyncExitStack() as running:
        # Positional-only: "store" is also a settings section.
        async def start(vector_store: VectorStore, /, **sections: dict[str, Any]) -> Vrs:
            return await running.enter_async_context(
                running_vrs(tmp_path, effnet, vector_store, **sections)
            )

        yield start


@pytest.fixture
def store(effnet: ImageEmbedder, store_factory: StoreFactory) -> VectorStore:
    """A store for `effnet`'s vectors: each adapter in turn (`store_factory`)."""
    return store_factory(effnet.model_id, effnet.dimension)


@pytest_asyncio.fixture
async def vrs(start_vrs: VrsStarter, store: VectorStore) -> Vrs:
    """A vrs with the test settings serving `store` (each adapter in turn), empty catalog. A
    module that needs other settings, another store or a catalog overrides this, with
    `start_vrs`."""
    return await start_vrs(store)


@pytest_asyncio.fixture
async def searching_vrs(start_vrs: VrsStarter, store: VectorStore) -> Vrs:
    """A vrs serving `store` (each adapter in turn), empty catalog, whose exact_threshold (50)
    sends selective filters to exact search and broad ones to the HNSW graph."""
    return await start_vrs(store, search={"exact_threshold": 50})


@pytest_asyncio.fixture
async def random_vrs(
    searching_vrs: Vrs, effnet: ImageEmbedder
) -> tuple[Vrs, list[dict[str, Any]], npt.NDArray[np.float32]]:
    """`searching_vrs` holding the random catalog; with its products and their vectors."""
    from tests.support.random_catalog import index_random_catalog

    products, vectors = await index_random_catalog(searching_vrs, effnet)
    return searching_vrs, products, vectors
