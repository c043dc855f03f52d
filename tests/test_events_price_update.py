"""A catalog price update arriving as an event: no model run, and no stale cached result."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.events_pipeline import STREAM, events_settings, sync_redis
from tests.support.images import product_jpeg
from tests.support.redis_server import RedisServer
from tests.support.search_env import running_vrs
from tests.support.stores import StoreFactory
from vrs.catalog.products import Product, ProductPatch
from vrs.events.publish import publish, update_event, upsert_event
from vrs.images.source import ImageInput
from vrs.v1 import common_pb2, embedder_pb2, search_pb2

pytestmark = pytest.mark.slow


async def test_price_update_skips_the_model_and_invalidates_cached_results(
    tmp_path: Path,
    image_root_embedder: ImageEmbedder,
    store_factory: StoreFactory,
    redis_server: RedisServer,
) -> None:
    store = store_factory(image_root_embedder.model_id, image_root_embedder.dimension)
    client = sync_redis(redis_server.url)
    events = events_settings(enabled=True).model_dump()
    async with running_vrs(
        tmp_path, image_root_embedder, store, redis={"url": redis_server.url}, events=events
    ) as vrs:
        photo = product_jpeg("shoes", 77)
        publish(
            client,
            STREAM,
            upsert_event(Product("e1", category="shoes", price=80.0), ImageInput(data=photo)),
        )

        async def price_of(pid: str) -> float | None:
            found = await vrs.embedder.GetProducts(
                embedder_pb2.GetProductsRequest(product_ids=[pid])
            )
            return found.products[0].price if found.products else None

        while await price_of("e1") != 80.0:
            await asyncio.sleep(0.05)
        query = search_pb2.SearchByImageRequest(image=common_pb2.ImageSource(data=photo), k=1)
        await vrs.search.SearchByImage(query)
        assert (await vrs.search.SearchByImage(query)).from_cache
        embedded = image_root_embedder.engine.images_embedded

        publish(client, STREAM, update_event(ProductPatch("e1", price=59.5)))
        while await price_of("e1") != 59.5:
            await asyncio.sleep(0.05)
        after = await vrs.search.SearchByImage(query)
        assert not after.from_cache, "the cached result with the old price is not served"
        assert after.matches[0].product.price == 59.5
        assert image_root_embedder.engine.images_embedded == embedded, (
            "a price update runs no model"
        )

        stats = await vrs.embedder.GetStats(embedder_pb2.GetEmbedderStatsRequest())
        assert stats.events.enabled and stats.events.stream == STREAM
        assert stats.events.processed == 2
        assert stats.events.lag == 0
