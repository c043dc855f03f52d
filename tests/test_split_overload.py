"""A search service on its own passes the embedder's RESOURCE_EXHAUSTED on to its caller, so
callers back off instead of reading an INTERNAL error."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc

from services.composition import create_server
from services.embedder.runtimes.engine import InferenceEngine
from tests.support.factories import make_embedder, settings_for
from tests.support.images import product_jpeg
from tests.support.servers import embedder_server
from tests.support.stores import StoreFactory
from vrs.store.async_store import AsyncStore
from vrs.v1 import common_pb2, search_pb2, search_pb2_grpc

LIVENESS_S = 60.0


async def test_a_full_embedder_queue_is_resource_exhausted_through_search(
    tmp_path: Path, inception_engine: InferenceEngine, store_factory: StoreFactory
) -> None:
    tight = make_embedder(inception_engine, max_batch_size=1, max_queue=1)
    store = store_factory(tight.model_id, tight.dimension)
    codes: list[grpc.StatusCode] = []
    async with embedder_server(tmp_path, tight) as emb:
        settings = settings_for(tmp_path, search={"embedder_address": f"127.0.0.1:{emb.port}"})
        server, port = await create_server(settings, "search", store=AsyncStore(store, 10.0))
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = search_pb2_grpc.SearchServiceStub(channel)

            async def search(seed: int) -> None:
                request = search_pb2.SearchByImageRequest(
                    image=common_pb2.ImageSource(data=product_jpeg(seed=seed)), k=3
                )
                try:
                    await stub.SearchByImage(request)
                except grpc.aio.AioRpcError as exc:
                    codes.append(exc.code())
                else:
                    codes.append(grpc.StatusCode.OK)

            await asyncio.wait_for(asyncio.gather(*(search(i) for i in range(12))), LIVENESS_S)
        await server.stop(1)
    await tight.close()
    assert set(codes) == {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}, codes
