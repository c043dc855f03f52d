"""Real visual semantics (efficientnet_lite0, real ImageNet weights, real product photos)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio

from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.catalog import Row, read_catalog, upsert_of
from tests.support.images import crop_and_recolour
from tests.support.search_env import running_vrs
from tests.support.servers import RunningEmbedder, embedder_server
from tests.support.stores import StoreFactory
from vrs.store.base import VectorStore
from vrs.store.query import SearchRequest
from vrs.v1 import common_pb2, embedder_pb2, search_pb2

pytestmark = pytest.mark.slow


@pytest_asyncio.fixture
async def indexed(
    tmp_path: Path, effnet: ImageEmbedder, store_factory: StoreFactory, sample_catalog: Path
) -> AsyncIterator[tuple[RunningEmbedder, VectorStore, list[Row]]]:
    rows = read_catalog(sample_catalog)
    store = store_factory(effnet.model_id, effnet.dimension)
    async with embedder_server(tmp_path, effnet, store) as svc:

        async def batches() -> AsyncIterator[embedder_pb2.UpsertProductsRequest]:
            for start in range(0, len(rows), 32):
                yield embedder_pb2.UpsertProductsRequest(
                    items=[upsert_of(r) for r in rows[start : start + 32]]
                )

        summary = await svc.stub.StreamUpsertProducts(batches())
        assert summary.upserted == len(rows)
        yield svc, store, rows


async def test_modified_copy_finds_its_original(
    indexed: tuple[RunningEmbedder, VectorStore, list[Row]],
) -> None:
    svc, store, rows = indexed
    probes = rows[:: max(1, len(rows) // 24)]
    found = 0
    same_category = 0
    for row in probes:
        copy = crop_and_recolour(row.image.read_bytes())
        response = await svc.stub.Embed(
            embedder_pb2.EmbedRequest(images=[common_pb2.ImageSource(data=copy)])
        )
        vector = np.array(response.results[0].embedding.values, dtype=np.float32)
        hits = store.search(SearchRequest(vector, 5, exact=True))
        found += hits[0].stored.product.product_id == row.product_id
        same_category += sum(h.stored.product.category == row.category for h in hits)
    print(
        f"\nmodified copy -> original at rank 1: {found}/{len(probes)}; "
        f"same category in top 5: {same_category}/{5 * len(probes)}"
    )
    assert found >= 0.9 * len(probes)
    assert same_category >= 0.9 * 5 * len(probes)


async def test_shirt_photo_within_budget_finds_shirts(
    tmp_path: Path, effnet: ImageEmbedder, store_factory: StoreFactory, sample_catalog: Path
) -> None:
    """The product's promise, end to end through the search service."""
    rows = read_catalog(sample_catalog)
    store = store_factory(effnet.model_id, effnet.dimension)
    async with running_vrs(tmp_path, effnet, store) as vrs:
        for start in range(0, len(rows), 64):
            await vrs.embedder.UpsertProducts(
                embedder_pb2.UpsertProductsRequest(
                    items=[
                        embedder_pb2.ProductUpsert(
                            product=common_pb2.ProductAttributes(
                                product_id=r.product_id,
                                title=r.title,
                                category=r.category,
                                brand=r.brand,
                                price=r.price,
                                currency=r.currency,
                            ),
                            image=common_pb2.ImageSource(data=r.image.read_bytes()),
                        )
                        for r in rows[start : start + 64]
                    ]
                )
            )
        cap = 40.0
        loved = next(r for r in rows if r.category == "shirt" and r.price > cap)
        response = await vrs.search.SearchByImage(
            search_pb2.SearchByImageRequest(
                image=common_pb2.ImageSource(data=crop_and_recolour(loved.image.read_bytes())),
                k=10,
                filter=search_pb2.SearchFilter(max_price=cap),
            )
        )
    assert len(response.matches) == 10
    assert all(m.product.price <= cap for m in response.matches)
    assert loved.product_id not in {m.product_id for m in response.matches}
    affordable_shirts = sum(r.category == "shirt" and r.price <= cap for r in rows)
    shirts = [m.product.category == "shirt" for m in response.matches]
    assert all(shirts[: min(5, affordable_shirts)]), [m.product_id for m in response.matches]
    assert sum(shirts) >= min(8, affordable_shirts)
