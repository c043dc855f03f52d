"""Zero-downtime model upgrade: index into a new collection, then switch the Qdrant alias the
search service reads through. Against a real Qdrant engine (qdrant-client local mode)."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from qdrant_client import QdrantClient

from services.composition import LocalQueryEmbedder, create_server
from services.embedder.catalog.items import UpsertItem
from services.embedder.catalog.writer import CatalogWriter
from services.embedder.embedding.embedder import ImageEmbedder
from services.embedder.runtimes.engine import InferenceEngine
from tests.support.factories import make_embedder, settings_for
from tests.support.images import product_jpeg
from vrs.catalog.products import Product
from vrs.images.source import ImageInput
from vrs.settings import StoreSettings
from vrs.store.async_store import AsyncStore
from vrs.store.base import collection_name
from vrs.store.qdrant_server_store import QdrantServerStore, resolve_alias, switch_alias
from vrs.v1 import common_pb2, search_pb2, search_pb2_grpc

ALIAS = "vrs_products"
CATEGORIES = ["shirt", "shoes", "bag", "hat"]


async def index(embedder: ImageEmbedder, store: QdrantServerStore) -> None:
    writer = CatalogWriter(embedder, AsyncStore(store, 10.0), None, embedder.fetcher)
    results = await writer.upsert(
        [
            UpsertItem(
                Product(f"p{i}", category=CATEGORIES[i % 4], price=10.0 + i),
                image=ImageInput(data=product_jpeg(CATEGORIES[i % 4], seed=i)),
            )
            for i in range(8)
        ]
    )
    assert all(r.error is None for r in results)


async def search(
    tmp_path: Path,
    embedder: ImageEmbedder,
    reader: QdrantServerStore,
) -> search_pb2.SearchResponse:
    server, port = await create_server(
        settings_for(tmp_path),
        "search",
        query_embedder=LocalQueryEmbedder(embedder),
        store=AsyncStore(reader, 10.0),
    )
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            return await search_pb2_grpc.SearchServiceStub(channel).SearchByImage(
                search_pb2.SearchByImageRequest(
                    image=common_pb2.ImageSource(data=product_jpeg("shoes", seed=1)), k=3
                )
            )
    finally:
        await server.stop(1)


async def test_alias_switch_moves_search_to_the_new_model(
    tmp_path: Path, effnet_engine: InferenceEngine, inception_engine: InferenceEngine
) -> None:
    client = QdrantClient(":memory:")
    v1, v2 = make_embedder(effnet_engine), make_embedder(inception_engine)
    first = StoreSettings(url=":memory:", alias=ALIAS, alias_switch=True, alias_refresh_s=0)
    store_v1 = QdrantServerStore.open_for_writing(
        client, first, v1.model_id, v1.dimension, owns_client=False
    )
    await index(v1, store_v1)
    reader = QdrantServerStore.open_for_reading(client, first, v1.model_id, owns_client=False)
    assert reader.collection == ALIAS
    before = await search(tmp_path, v1, reader)
    assert before.model_id == v1.model_id and before.matches[0].product_id == "p1"

    # The new model's fleet indexes its own collection; the alias still serves the old one.
    later = first.model_copy(update={"alias_switch": False})
    store_v2 = QdrantServerStore.open_for_writing(
        client, later, v2.model_id, v2.dimension, owns_client=False
    )
    await index(v2, store_v2)
    assert resolve_alias(client, ALIAS) == collection_name("vrs_products", v1.model_id)
    assert (await search(tmp_path, v1, reader)).model_id == v1.model_id

    switch_alias(client, ALIAS, store_v2.collection)
    assert reader.model_id == v2.model_id
    assert reader.dimension == 2048
    after = await search(tmp_path, v2, reader)
    assert after.model_id == v2.model_id
    assert len(after.matches) == 3

    # A replica still embedding with the old model is refused, not answered wrongly.
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await search(tmp_path, v1, reader)
    assert failure.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    # The old collection stays until dropped: rolling back is one more alias switch.
    assert client.collection_exists(collection_name("vrs_products", v1.model_id))
    await v1.close()
    await v2.close()
