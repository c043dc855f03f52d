"""The embedder's metrics move by exactly what its calls did, and GetStats (what `vrs stats`
shows) reads the same counters a scrape of /metrics does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.images import product_jpeg
from tests.support.metrics_scrape import METRICS_ON, Scrape, delta, scrape
from tests.support.servers import RunningEmbedder, embedder_server
from tests.support.stores import StoreFactory
from vrs.v1 import common_pb2, embedder_pb2


@pytest_asyncio.fixture
async def svc(
    tmp_path: Path, effnet: ImageEmbedder, store_factory: StoreFactory
) -> AsyncIterator[RunningEmbedder]:
    store = store_factory(effnet.model_id, effnet.dimension)
    async with embedder_server(tmp_path, effnet, store, obs=METRICS_ON) as running:
        yield running


async def scraped(svc: RunningEmbedder) -> Scrape:
    assert svc.server.metrics_port is not None, "metrics are on"
    return await scrape(svc.server.metrics_port)


def embed_request(*photos: bytes) -> embedder_pb2.EmbedRequest:
    return embedder_pb2.EmbedRequest(images=[common_pb2.ImageSource(data=p) for p in photos])


async def test_images_embedded_and_decoded_count_each_image(svc: RunningEmbedder) -> None:
    before = await scraped(svc)
    await svc.stub.Embed(embed_request(*(product_jpeg("bag", seed) for seed in range(3))))
    await svc.stub.Embed(embed_request(product_jpeg("hat", 7)))
    after = await scraped(svc)

    assert delta(before, after, "vrs_embedder_images_embedded_total") == 4
    assert delta(before, after, "vrs_embedder_decode_seconds_count") == 4
    assert delta(before, after, "vrs_embedder_queue_wait_seconds_count") == 4


async def test_one_batch_size_and_forward_time_per_forward_pass(svc: RunningEmbedder) -> None:
    before = await scraped(svc)
    await svc.stub.Embed(embed_request(*(product_jpeg("shoe", seed) for seed in range(5))))
    after = await scraped(svc)

    passes = delta(before, after, "vrs_embedder_forward_passes_total")
    assert passes >= 1
    assert delta(before, after, "vrs_embedder_batch_size_count") == passes
    assert delta(before, after, "vrs_embedder_batch_size_sum") == 5, (
        "each image in exactly one pass"
    )
    assert delta(before, after, "vrs_embedder_forward_seconds_count") == passes


async def test_queues_are_empty_when_idle_and_the_device_is_named(
    svc: RunningEmbedder, effnet: ImageEmbedder
) -> None:
    await svc.stub.Embed(embed_request(product_jpeg()))
    after = await scraped(svc)
    assert after.value("vrs_embedder_queue_depth") == 0
    assert after.value("vrs_embedder_decode_queue_depth") == 0
    device = after.value(
        "vrs_embedder_device_info", device=effnet.engine.device_name, model_id=effnet.model_id
    )
    assert device == 1


async def test_get_stats_and_the_scrape_report_the_same_counters(svc: RunningEmbedder) -> None:
    await svc.stub.Embed(embed_request(product_jpeg("bag", 1), product_jpeg("bag", 2)))
    stats = await svc.stub.GetStats(embedder_pb2.GetEmbedderStatsRequest())
    after = await scraped(svc)

    assert stats.images_embedded == after.value("vrs_embedder_images_embedded_total") == 2
    assert stats.forward_passes == after.value("vrs_embedder_forward_passes_total")


async def test_store_size_and_write_latency(svc: RunningEmbedder) -> None:
    before = await scraped(svc)
    upsert = embedder_pb2.UpsertProductsRequest(
        items=[
            embedder_pb2.ProductUpsert(
                product=common_pb2.ProductAttributes(product_id=f"p{i}", category="bag"),
                image=common_pb2.ImageSource(data=product_jpeg("bag", i)),
            )
            for i in range(2)
        ]
    )
    await svc.stub.UpsertProducts(upsert)
    await svc.stub.DeleteProducts(embedder_pb2.DeleteProductsRequest(product_ids=["p0"]))
    stats = await svc.stub.GetStats(embedder_pb2.GetEmbedderStatsRequest())
    after = await scraped(svc)

    writes = "vrs_store_write_seconds_count"
    assert delta(before, after, writes, operation="upsert") == 1
    assert delta(before, after, writes, operation="delete") == 1
    assert after.value("vrs_store_points") == stats.index.points == 1
    assert after.value("vrs_store_indexed_vectors") == stats.index.indexed_vectors
