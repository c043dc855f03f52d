"""The Redis cache of the search service, against a real redis-server."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.images import product_jpeg
from tests.support.redis_server import RedisServer
from tests.support.search_env import Vrs, VrsStarter, running_vrs
from tests.support.stores import StoreFactory
from vrs.store.base import VectorStore
from vrs.v1 import common_pb2, embedder_pb2, search_pb2

CATEGORIES = ["shirt", "shoes", "bag", "hat"]


def photo(i: int) -> bytes:
    return product_jpeg(CATEGORIES[i % 4], seed=100 + i)


async def index(vrs: Vrs, n: int = 12) -> None:
    items = [
        embedder_pb2.ProductUpsert(
            product=common_pb2.ProductAttributes(
                product_id=f"p{i}", category=CATEGORIES[i % 4], price=10.0 + i, title=f"P{i}"
            ),
            image=common_pb2.ImageSource(data=photo(i)),
        )
        for i in range(n)
    ]
    response = await vrs.embedder.UpsertProducts(embedder_pb2.UpsertProductsRequest(items=items))
    assert all(r.outcome == embedder_pb2.UPSERT_OUTCOME_UPSERTED for r in response.results)


def query(
    data: bytes, k: int = 5, region: common_pb2.Region | None = None, **flt: Any
) -> search_pb2.SearchByImageRequest:
    return search_pb2.SearchByImageRequest(
        image=common_pb2.ImageSource(data=data),
        k=k,
        filter=search_pb2.SearchFilter(**flt),
        region=region,
    )


@pytest_asyncio.fixture
async def vrs(start_vrs: VrsStarter, store: VectorStore, redis_server: RedisServer) -> Vrs:
    redis = {"url": redis_server.url, "retry_after_s": 0.2}
    running = await start_vrs(store, redis=redis, cache={"result_ttl_s": 2})
    await index(running)
    return running


async def test_miss_then_hit_touches_neither_model_nor_qdrant(
    vrs: Vrs, effnet: ImageEmbedder
) -> None:
    first = await vrs.search.SearchByImage(query(photo(1)))
    assert not first.from_cache
    assert first.matches[0].product_id == "p1"
    distances = [m.distance for m in first.matches]
    assert distances == sorted(distances)
    embedded, store_calls = effnet.engine.images_embedded, dict(vrs.store.calls)
    second = await vrs.search.SearchByImage(query(photo(1)))
    assert second.from_cache
    assert list(second.matches) == list(first.matches)
    assert effnet.engine.images_embedded == embedded, "a hit does not run the model"
    assert vrs.store.calls == store_calls, "a hit does not query Qdrant"


async def test_repeated_photo_with_another_filter_skips_the_model(
    vrs: Vrs, effnet: ImageEmbedder
) -> None:
    await vrs.search.SearchByImage(query(photo(2)))
    embedded, searches = effnet.engine.images_embedded, vrs.store.calls["search"]
    other = await vrs.search.SearchByImage(query(photo(2), max_price=15.0))
    assert not other.from_cache
    assert all(m.product.price <= 15.0 for m in other.matches)
    assert effnet.engine.images_embedded == embedded, "the query embedding came from Redis"
    assert vrs.store.calls["search"] == searches + 1


async def test_a_region_is_part_of_the_cached_query(vrs: Vrs, effnet: ImageEmbedder) -> None:
    left = common_pb2.Region(x=0.0, y=0.0, width=0.5, height=1.0)
    await vrs.search.SearchByImage(query(photo(3)))
    embedded = effnet.engine.images_embedded
    boxed = await vrs.search.SearchByImage(query(photo(3), region=left))
    assert not boxed.from_cache, "the whole photo's answer is not the region's"
    assert effnet.engine.images_embedded == embedded + 1, "the region is embedded anew"
    assert boxed.region.box == left and boxed.region.source == common_pb2.REGION_GIVEN
    again = await vrs.search.SearchByImage(query(photo(3), region=left))
    assert again.from_cache and again.region == boxed.region
    right = common_pb2.Region(x=0.5, y=0.0, width=0.5, height=1.0)
    other = await vrs.search.SearchByImage(query(photo(3), region=right))
    assert not other.from_cache and other.region.box == right


async def test_a_cached_query_embedding_keeps_its_region(vrs: Vrs, effnet: ImageEmbedder) -> None:
    left = common_pb2.Region(x=0.0, y=0.0, width=0.5, height=1.0)
    await vrs.search.SearchByImage(query(photo(4), region=left))
    embedded = effnet.engine.images_embedded
    filtered = await vrs.search.SearchByImage(query(photo(4), region=left, max_price=15.0))
    assert not filtered.from_cache
    assert effnet.engine.images_embedded == embedded, "the region's embedding came from Redis"
    assert filtered.region.box == left and filtered.region.source == common_pb2.REGION_GIVEN


async def test_results_expire_after_their_ttl(vrs: Vrs) -> None:
    await vrs.search.SearchByImage(query(photo(3)))
    assert (await vrs.search.SearchByImage(query(photo(3)))).from_cache
    await asyncio.sleep(2.3)
    assert not (await vrs.search.SearchByImage(query(photo(3)))).from_cache


@pytest.mark.parametrize("change", ["upsert", "delete", "price", "update-rpc"])
async def test_catalog_changes_invalidate_cached_results(vrs: Vrs, change: str) -> None:
    await vrs.search.SearchByImage(query(photo(4)))
    assert (await vrs.search.SearchByImage(query(photo(4)))).from_cache
    if change == "upsert":
        await vrs.embedder.UpsertProducts(
            embedder_pb2.UpsertProductsRequest(
                items=[
                    embedder_pb2.ProductUpsert(
                        product=common_pb2.ProductAttributes(
                            product_id="twin", category="bag", price=1.0
                        ),
                        image=common_pb2.ImageSource(data=photo(4)),
                    )
                ]
            )
        )
    elif change == "delete":
        await vrs.embedder.DeleteProducts(embedder_pb2.DeleteProductsRequest(product_ids=["p4"]))
    elif change == "price":
        await vrs.embedder.UpsertProducts(
            embedder_pb2.UpsertProductsRequest(
                items=[
                    embedder_pb2.ProductUpsert(
                        product=common_pb2.ProductAttributes(
                            product_id="p4", category="bag", price=99.0, title="P4"
                        ),
                        image=common_pb2.ImageSource(data=photo(4)),
                    )
                ]
            )
        )
    else:
        await vrs.embedder.UpdateProducts(
            embedder_pb2.UpdateProductsRequest(
                patches=[embedder_pb2.ProductPatch(product_id="p4", price=99.0)]
            )
        )
    after = await vrs.search.SearchByImage(query(photo(4)))
    assert not after.from_cache
    ids = [m.product_id for m in after.matches]
    if change == "upsert":
        assert "twin" in ids[:2]
    elif change == "delete":
        assert "p4" not in ids
    else:
        assert after.matches[0].product_id == "p4"
        assert after.matches[0].product.price == 99.0


async def test_identical_concurrent_misses_run_once(vrs: Vrs, effnet: ImageEmbedder) -> None:
    embedded, searches = effnet.engine.images_embedded, vrs.store.calls["search"]
    answers = await asyncio.gather(*(vrs.search.SearchByImage(query(photo(5))) for _ in range(20)))
    assert effnet.engine.images_embedded == embedded + 1
    assert vrs.store.calls["search"] == searches + 1
    assert len({tuple(m.product_id for m in a.matches) for a in answers}) == 1


async def test_redis_down_searches_still_answer_and_caching_resumes(
    vrs: Vrs, redis_server: RedisServer
) -> None:
    await vrs.search.SearchByImage(query(photo(6)))
    redis_server.stop()
    for _ in range(3):
        answer = await vrs.search.SearchByImage(query(photo(6)), timeout=5)
        assert not answer.from_cache
        assert answer.matches[0].product_id == "p6"
    stats = await vrs.search.GetStats(search_pb2.GetSearchStatsRequest())
    assert stats.cache.errors >= 1
    redis_server.start()  # same port, empty: the cache refills
    await asyncio.sleep(0.3)
    await vrs.search.SearchByImage(query(photo(6)))
    again = await vrs.search.SearchByImage(query(photo(6)))
    assert again.from_cache, "caching resumed without a restart"


async def test_stats_report_hit_rate(vrs: Vrs) -> None:
    await vrs.search.SearchByImage(query(photo(7)))
    await vrs.search.SearchByImage(query(photo(7)))
    stats = await vrs.search.GetStats(search_pb2.GetSearchStatsRequest())
    assert stats.cache.enabled
    assert stats.cache.hits >= 1 and stats.cache.misses >= 1
    assert 0 < stats.cache.hit_rate < 1
    assert stats.points == 12


async def test_without_redis_the_cache_is_off_and_says_so(
    tmp_path: Path,
    effnet: ImageEmbedder,
    store_factory: StoreFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = store_factory(effnet.model_id, effnet.dimension)
    with caplog.at_level(logging.WARNING):
        async with running_vrs(tmp_path, effnet, store) as vrs:
            await index(vrs, 4)
            first = await vrs.search.SearchByImage(query(photo(1)))
            second = await vrs.search.SearchByImage(query(photo(1)))
            assert not first.from_cache and not second.from_cache
            stats = await vrs.search.GetStats(search_pb2.GetSearchStatsRequest())
            assert not stats.cache.enabled
    assert any("cache is OFF" in r.getMessage() for r in caplog.records)


# Each changes the answer, so each has a cache entry of its own beside the default's.
PRODUCT_QUERY_OPTIONS = {
    "over_budget off": {"over_budget": False},
    "cheaper": {"cheaper": True},
    "collapse group": {"collapse": search_pb2.COLLAPSE_GROUP},
    "include variants": {"include_variants": True},
    "currency": {"filter": search_pb2.SearchFilter(max_price=14.0, currency="USD")},
}


@pytest.mark.parametrize("options", PRODUCT_QUERY_OPTIONS.values(), ids=PRODUCT_QUERY_OPTIONS)
async def test_each_product_query_option_has_its_own_cache_entry(
    vrs: Vrs, options: dict[str, Any]
) -> None:
    flt = search_pb2.SearchFilter(max_price=14.0)
    default = search_pb2.SearchByProductRequest(product_id="p6", k=5, filter=flt)
    await vrs.search.SearchByProduct(default)
    assert (await vrs.search.SearchByProduct(default)).from_cache
    other = search_pb2.SearchByProductRequest(product_id="p6", k=5, filter=flt)
    for name, value in options.items():
        if name == "filter":
            other.filter.CopyFrom(value)
        else:
            setattr(other, name, value)
    first = await vrs.search.SearchByProduct(other)
    assert not first.from_cache
    again = await vrs.search.SearchByProduct(other)
    assert again.from_cache and list(again.matches) == list(first.matches)
    assert list(again.over_budget) == list(first.over_budget)
