"""A cached value that cannot be decoded (another version wrote it, or it is garbled) is a
miss: the search recomputes and answers, and the cache counts an error."""

from __future__ import annotations

import pytest_asyncio
import redis

from tests.support.cache_env import image_query, upsert
from tests.support.images import product_jpeg
from tests.support.redis_server import RedisServer
from tests.support.search_env import Vrs, VrsStarter
from vrs.store.base import VectorStore
from vrs.v1 import search_pb2

PHOTO = product_jpeg("bag", seed=911)


@pytest_asyncio.fixture
async def vrs(start_vrs: VrsStarter, memory_store: VectorStore, redis_server: RedisServer) -> Vrs:
    running = await start_vrs(memory_store, redis={"url": redis_server.url})
    await upsert(running, "bag-1", "bag", PHOTO)
    return running


def overwrite(redis_server: RedisServer, pattern: str, value: bytes) -> None:
    with redis.Redis.from_url(redis_server.url) as client:
        keys = list(client.scan_iter(pattern))
        assert keys, f"precondition: something cached under {pattern}"
        for key in keys:
            client.set(key, value)


async def test_a_garbled_cached_result_is_a_miss_not_an_error(
    vrs: Vrs, redis_server: RedisServer
) -> None:
    await vrs.search.SearchByImage(image_query(PHOTO))
    overwrite(redis_server, "vrs:result:*", b'{"model_id": "m", "matches": [{"p": {"x": 1}}]}')
    answer = await vrs.search.SearchByImage(image_query(PHOTO))
    assert not answer.from_cache
    assert answer.matches[0].product_id == "bag-1"
    stats = await vrs.search.GetStats(search_pb2.GetSearchStatsRequest())
    assert stats.cache.errors >= 1


async def test_a_garbled_cached_embedding_is_a_miss_not_an_error(
    vrs: Vrs, redis_server: RedisServer
) -> None:
    await vrs.search.SearchByImage(image_query(PHOTO))
    overwrite(redis_server, "vrs:embedding*", b"\x00\x01\x02")
    answer = await vrs.search.SearchByImage(image_query(PHOTO, max_price=50.0))
    assert answer.matches[0].product_id == "bag-1"
