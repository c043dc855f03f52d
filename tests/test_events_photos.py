"""Catalog events of products with several photos: the schema takes `images` (1 to 16) beside
`image`, and an upsert event replaces the product's photos as UpsertProducts does."""

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
from vrs.catalog.products import Product
from vrs.errors import InvalidInput
from vrs.events.publish import publish, upsert_event
from vrs.events.schema import MalformedEvent, Upsert, decode, encode, to_change
from vrs.images.source import ImageInput
from vrs.v1 import common_pb2, embedder_pb2, events_pb2

PHOTOS = [ImageInput(data=product_jpeg("shirt", seed)) for seed in range(60, 64)]


def test_an_upsert_event_carries_its_photos_in_order() -> None:
    event = upsert_event(Product("dress"), PHOTOS[:3], image_uris=["a", "b", "c"])
    change = to_change(decode(encode(event)))
    assert change == Upsert(Product("dress"), tuple(PHOTOS[:3]), ("a", "b", "c"))


def test_an_upsert_event_with_image_and_images_is_malformed() -> None:
    event = upsert_event(Product("dress"), PHOTOS[:2])
    event.image.data = b"x"
    with pytest.raises(MalformedEvent, match="both image and images"):
        to_change(event)


def test_an_upsert_event_with_too_many_photos_is_refused() -> None:
    event = upsert_event(Product("dress"), PHOTOS[:1] * 17)
    with pytest.raises(InvalidInput, match="17 photos, at most 16"):
        to_change(event)


def test_an_upsert_event_without_any_photo_is_malformed() -> None:
    event = events_pb2.CatalogEvent(
        kind=events_pb2.CatalogEvent.UPSERT,
        product_id="dress",
        product=common_pb2.ProductAttributes(product_id="dress"),
    )
    with pytest.raises(MalformedEvent, match="has no image"):
        to_change(event)


@pytest.mark.slow
async def test_an_upsert_event_replaces_the_products_photos(
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

        async def photos_of(pid: str) -> list[str]:
            found = await vrs.embedder.GetProducts(
                embedder_pb2.GetProductsRequest(product_ids=[pid])
            )
            return [p.image_sha256 for p in found.photos[0].photos] if found.photos else []

        publish(client, STREAM, upsert_event(Product("dress"), PHOTOS[:3]))
        while len(await photos_of("dress")) != 3:
            await asyncio.sleep(0.05)
        embedded = image_root_embedder.engine.images_embedded
        publish(client, STREAM, upsert_event(Product("dress"), [PHOTOS[0], PHOTOS[3]]))
        while len(await photos_of("dress")) != 2:
            await asyncio.sleep(0.05)
        assert image_root_embedder.engine.images_embedded == embedded + 1, "only the new one"
