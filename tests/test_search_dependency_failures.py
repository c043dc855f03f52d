"""A search whose embedder or Qdrant is missing or wrong fails with the status that says so:
FAILED_PRECONDITION for an embedder of another model, UNAVAILABLE for one that is down."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from qdrant_client import QdrantClient

from services.composition import LocalQueryEmbedder, create_server
from services.embedder.embedding.embedder import ImageEmbedder
from services.embedder.runtimes.engine import InferenceEngine
from services.search.query_embedder import QueryEmbedder
from tests.support.factories import make_embedder, settings_for
from tests.support.images import product_jpeg
from tests.support.redis_server import free_port
from tests.support.servers import embedder_server
from tests.support.stores import StoreFactory
from vrs.settings import Settings, StoreSettings
from vrs.store.async_store import AsyncStore
from vrs.store.qdrant_server_store import QdrantServerStore
from vrs.v1 import common_pb2, search_pb2, search_pb2_grpc


async def failed_image_search(
    settings: Settings, embedder: QueryEmbedder | None, store: AsyncStore
) -> grpc.aio.AioRpcError:
    """A search server with these parts; the error one image query gets from it."""
    server, port = await create_server(settings, "search", query_embedder=embedder, store=store)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = search_pb2_grpc.SearchServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as failure:
                await stub.SearchByImage(
                    search_pb2.SearchByImageRequest(
                        image=common_pb2.ImageSource(data=product_jpeg())
                    ),
                    timeout=10,
                )
    finally:
        await server.stop(1)
    return failure.value


async def test_embedder_of_another_model_is_failed_precondition(
    tmp_path: Path,
    inception_engine: InferenceEngine,
    effnet: ImageEmbedder,
    store_factory: StoreFactory,
) -> None:
    inception = make_embedder(inception_engine)
    store = store_factory(effnet.model_id, effnet.dimension)  # the collection holds effnet vectors
    async with embedder_server(tmp_path, inception) as emb:
        settings = settings_for(tmp_path, search={"embedder_address": f"127.0.0.1:{emb.port}"})
        failure = await failed_image_search(settings, None, AsyncStore(store, 10.0))
    await inception.close()
    assert failure.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "inception_v3+gem2-crop0.8-cblur3@random-seed0" in (failure.details() or "")


async def test_embedder_unreachable_is_unavailable(
    tmp_path: Path, effnet: ImageEmbedder, store_factory: StoreFactory
) -> None:
    store = store_factory(effnet.model_id, effnet.dimension)
    dead = f"127.0.0.1:{free_port()}"
    settings = settings_for(tmp_path, search={"embedder_address": dead, "embedder_timeout_s": 1.0})
    failure = await failed_image_search(settings, None, AsyncStore(store, 10.0))
    assert failure.code() == grpc.StatusCode.UNAVAILABLE
    assert "embedder unavailable" in (failure.details() or "")


async def test_qdrant_unreachable_is_unavailable(tmp_path: Path, effnet: ImageEmbedder) -> None:
    settings = StoreSettings(
        url=f"http://127.0.0.1:{free_port()}", prefer_grpc=False, timeout_s=1.0
    )
    client = QdrantClient(url=settings.url, prefer_grpc=False, timeout=1, check_compatibility=False)
    dead_store = QdrantServerStore(
        client, f"vrs_products__{effnet.model_id}", settings, effnet.model_id, effnet.dimension
    )
    failure = await failed_image_search(
        settings_for(tmp_path), LocalQueryEmbedder(effnet), AsyncStore(dead_store, 2.0)
    )
    assert failure.code() == grpc.StatusCode.UNAVAILABLE
    assert "Qdrant unavailable" in (failure.details() or "")
