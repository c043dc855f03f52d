"""The search service's metrics (cache outcomes, Qdrant queries by mode, matches per answer)
move by exactly what its calls did, and GetStats reads the same cache counters."""

from __future__ import annotations

import pytest_asyncio

from tests.support.cache_env import image_query, upsert
from tests.support.images import product_jpeg
from tests.support.metrics_scrape import METRICS_ON, Scrape, delta, scrape
from tests.support.redis_server import RedisServer
from tests.support.search_env import Vrs, VrsStarter
from vrs.store.base import VectorStore
from vrs.v1 import search_pb2

PHOTO = product_jpeg("bag", seed=77)
CACHE = "vrs_search_cache_requests_total"


@pytest_asyncio.fixture
async def vrs(start_vrs: VrsStarter, memory_store: VectorStore, redis_server: RedisServer) -> Vrs:
    running = await start_vrs(memory_store, redis={"url": redis_server.url}, obs=METRICS_ON)
    for i in range(3):
        await upsert(running, f"bag-{i}", "bag", product_jpeg("bag", seed=i))
    return running


async def scraped(vrs: Vrs) -> Scrape:
    assert vrs.server.metrics_port is not None, "metrics are on"
    return await scrape(vrs.server.metrics_port)


async def test_a_miss_then_a_hit_count_one_of_each(vrs: Vrs) -> None:
    before = await scraped(vrs)
    await vrs.search.SearchByImage(image_query(PHOTO))
    await vrs.search.SearchByImage(image_query(PHOTO))
    after = await scraped(vrs)

    assert delta(before, after, CACHE, kind="result", outcome="miss") == 1
    assert delta(before, after, CACHE, kind="result", outcome="hit") == 1
    assert delta(before, after, CACHE, kind="embedding", outcome="miss") == 1
    assert delta(before, after, CACHE, outcome="error") == 0


async def test_the_same_photo_with_another_filter_hits_the_embedding_cache(vrs: Vrs) -> None:
    await vrs.search.SearchByImage(image_query(PHOTO))
    before = await scraped(vrs)
    await vrs.search.SearchByImage(image_query(PHOTO, max_price=5.0))
    after = await scraped(vrs)

    assert delta(before, after, CACHE, kind="result", outcome="miss") == 1
    assert delta(before, after, CACHE, kind="embedding", outcome="hit") == 1
    assert delta(before, after, "vrs_search_embedder_call_seconds_count") == 0


async def test_computed_answers_count_their_query_mode_and_matches(vrs: Vrs) -> None:
    before = await scraped(vrs)
    await vrs.search.SearchByImage(image_query(product_jpeg("hat", 3), k=2))
    await vrs.search.SearchByImage(image_query(product_jpeg("hat", 3), k=2))  # cached
    after = await scraped(vrs)

    # Three products: below VRS_SEARCH_EXACT_THRESHOLD, so the search is exact.
    assert delta(before, after, "vrs_search_queries_total", mode="exact") == 1
    assert delta(before, after, "vrs_search_queries_total", mode="hnsw") == 0
    assert delta(before, after, "vrs_search_store_query_seconds_count", mode="exact") == 1
    assert delta(before, after, "vrs_search_embedder_call_seconds_count") == 1
    assert delta(before, after, "vrs_search_results_count") == 1
    assert delta(before, after, "vrs_search_results_sum") == 2


async def test_redis_down_counts_cache_errors(vrs: Vrs, redis_server: RedisServer) -> None:
    before = await scraped(vrs)
    redis_server.stop()
    await vrs.search.SearchByImage(image_query(product_jpeg("hat", 9)), timeout=5)
    after = await scraped(vrs)

    assert delta(before, after, CACHE, kind="result", outcome="error") == 1
    assert delta(before, after, CACHE, kind="result", outcome="hit") == 0


async def test_get_stats_reads_the_cache_counters_the_scrape_shows(vrs: Vrs) -> None:
    for _ in range(3):
        await vrs.search.SearchByImage(image_query(PHOTO))
    stats = await vrs.search.GetStats(search_pb2.GetSearchStatsRequest())
    after = await scraped(vrs)

    assert stats.cache.hits == after.value(CACHE, kind="result", outcome="hit") == 2
    assert stats.cache.misses == after.value(CACHE, kind="result", outcome="miss") == 1
    assert stats.cache.errors == after.value(CACHE, outcome="error") == 0
