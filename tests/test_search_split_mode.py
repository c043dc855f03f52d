"""Search and embedder as separate servers: the search replica embeds queries over gRPC."""

from __future__ import annotations

from pathlib import Path

import grpc

from services.composition import create_server
from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.factories import settings_for
from tests.support.images import product_jpeg
from tests.support.servers import embedder_server
from tests.support.stores import StoreFactory
from vrs.store.async_store import AsyncStore
from vrs.v1 import common_pb2, embedder_pb2, search_pb2, search_pb2_grpc


async def test_split_deployment_embeds_over_grpc(
    tmp_path: Path, effnet: ImageEmbedder, store_factory: StoreFactory
) -> None:
    """Search and embedder as separate servers; the search replica asks the embedder."""
    store = store_factory(effnet.model_id, effnet.dimension)
    async with embedder_server(tmp_path, effnet, store) as emb:
        await emb.stub.UpsertProducts(
            embedder_pb2.UpsertProductsRequest(
                items=[
                    embedder_pb2.ProductUpsert(
                        product=common_pb2.ProductAttributes(product_id=f"s{i}"),
                        image=common_pb2.ImageSource(data=product_jpeg(seed=i)),
                    )
                    for i in range(3)
                ]
            )
        )
        settings = settings_for(tmp_path, search={"embedder_address": f"127.0.0.1:{emb.port}"})
        server, port = await create_server(settings, "search", store=AsyncStore(store, 10.0))
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = search_pb2_grpc.SearchServiceStub(channel)
            response = await stub.SearchByImage(
                search_pb2.SearchByImageRequest(
                    image=common_pb2.ImageSource(data=product_jpeg(seed=1)), k=3
                )
            )
            assert response.matches[0].product_id == "s1"
            assert response.model_id == effnet.model_id
        await server.stop(1)
