"""The cache-hit path: one Redis round trip, no store call, the cached response sent as
stored; a miss by product is one store call. Real redis-server, real stores, real gRPC."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import numpy as np
import pytest_asyncio
import redis
from qdrant_client import QdrantClient

from services.composition import create_server
from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.factories import settings_for
from tests.support.hit_path import (
    ProductsOnlyEmbedder,
    client_commands,
    upsert_vectors,
    write_vectors,
)
from tests.support.redis_server import RedisServer
from tests.support.search_env import CountingStore, Vrs, VrsStarter
from vrs.settings import StoreSettings
from vrs.store.base import VectorStore
from vrs.store.qdrant_server_store import QdrantServerStore, switch_alias
from vrs.v1 import search_pb2, search_pb2_grpc

N = 20


def by_product(product_id: str, k: int = 5) -> search_pb2.SearchByProductRequest:
    return search_pb2.SearchByProductRequest(product_id=product_id, k=k)


@pytest_asyncio.fixture
async def vrs(
    start_vrs: VrsStarter, effnet: ImageEmbedder, store: VectorStore, redis_server: RedisServer
) -> Vrs:
    running = await start_vrs(store, redis={"url": redis_server.url})
    vectors = np.random.default_rng(3).normal(size=(N, effnet.dimension))
    await upsert_vectors(running, effnet.model_id, vectors.astype(np.float32))
    return running


async def test_a_hit_asks_the_store_nothing(vrs: Vrs) -> None:
    first = await vrs.search.SearchByProduct(by_product("p1"))
    calls = dict(vrs.store.calls)
    second = await vrs.search.SearchByProduct(by_product("p1"))
    assert second.from_cache and not first.from_cache
    assert list(second.matches) == list(first.matches)
    assert dict(vrs.store.calls) == calls, "not even the model id"


async def test_a_hit_is_one_redis_round_trip(vrs: Vrs, redis_server: RedisServer) -> None:
    await vrs.search.SearchByProduct(by_product("p2"))
    with client_commands(redis_server.url) as commands:
        hit = await vrs.search.SearchByProduct(by_product("p2"))
    assert hit.from_cache
    assert commands == ["EVALSHA"], "generation and result in one script call"


async def test_a_miss_by_product_is_one_store_call(vrs: Vrs) -> None:
    await vrs.search.SearchByProduct(by_product("p3"))  # the model id, read once
    calls = dict(vrs.store.calls)
    miss = await vrs.search.SearchByProduct(by_product("p4"))
    assert not miss.from_cache and len(miss.matches) == 5
    assert "p4" not in {m.product_id for m in miss.matches}
    made = {name: n - calls.get(name, 0) for name, n in vrs.store.calls.items()}
    # The product's vector, the filtered set's size and the search: one call to the store.
    assert {name: n for name, n in made.items() if n} == {"search": 1}


async def test_a_hit_in_a_batch_is_the_cached_response(vrs: Vrs) -> None:
    query = search_pb2.SearchQuery(by_product=by_product("p5"))
    request = search_pb2.BatchSearchRequest(queries=[query, query])
    first = await vrs.search.BatchSearch(request)
    again = await vrs.search.BatchSearch(request)
    assert [r.response.from_cache for r in again.results] == [True, True]
    expected = [m.product_id for m in first.results[0].response.matches]
    for result in again.results:
        assert [m.product_id for m in result.response.matches] == expected
        assert result.response.model_id == first.results[0].response.model_id


async def test_a_cached_response_failing_its_checksum_is_a_miss(
    vrs: Vrs, redis_server: RedisServer
) -> None:
    first = await vrs.search.SearchByProduct(by_product("p6"))
    with redis.Redis.from_url(redis_server.url) as client:
        keys = list(client.scan_iter("vrs:result:*"))
        assert len(keys) == 1
        value = client.get(keys[0])
        assert isinstance(value, bytes)
        client.set(keys[0], value[:-1] + bytes([value[-1] ^ 0xFF]))
    answer = await vrs.search.SearchByProduct(by_product("p6"))
    assert not answer.from_cache
    assert list(answer.matches) == list(first.matches)
    stats = await vrs.search.GetStats(search_pb2.GetSearchStatsRequest())
    assert stats.cache.errors == 1


async def test_a_hit_after_an_alias_switch_serves_the_new_model(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    client = QdrantClient(":memory:")
    settings = StoreSettings(url=":memory:", alias="products", alias_refresh_s=0.2)
    rng = np.random.default_rng(9)
    old, new = (
        QdrantServerStore.open_for_writing(client, settings, model, 8, owns_client=False)
        for model in ("old@1", "new@2")
    )
    for store in (old, new):
        write_vectors(store, rng.normal(size=(N, 8)).astype(np.float32))
    switch_alias(client, "products", old.collection)
    reader = CountingStore(
        QdrantServerStore.open_for_reading(client, settings, "old@1", owns_client=False)
    )
    server, port = await create_server(
        settings_for(tmp_path, redis={"url": redis_server.url}, store={"alias_refresh_s": 0.2}),
        "search",
        query_embedder=ProductsOnlyEmbedder("old@1"),
        store=reader,
    )
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            search = search_pb2_grpc.SearchServiceStub(channel)
            await search.SearchByProduct(by_product("p0"))
            before = await search.SearchByProduct(by_product("p0"))
            assert before.from_cache and before.model_id == "old@1"

            switch_alias(client, "products", new.collection)
            await asyncio.sleep(0.5)
            moved = await search.SearchByProduct(by_product("p0"))
            hit = await search.SearchByProduct(by_product("p0"))
    finally:
        await server.stop(1)
        await reader.close()
        client.close()
    assert not moved.from_cache and moved.model_id == "new@2"
    assert hit.from_cache and hit.model_id == "new@2"
    assert [m.product_id for m in hit.matches] == [m.product_id for m in moved.matches]
    assert [m.product_id for m in hit.matches] != [m.product_id for m in before.matches]
