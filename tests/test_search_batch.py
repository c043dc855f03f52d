"""A batch of searches fails its bad queries alone; the good ones are answered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest_asyncio

from services.embedder.embedding import ImageEmbedder
from tests.support.images import product_jpeg
from tests.support.random_catalog import index_random_catalog, search_vrs
from tests.support.search_env import Vrs
from tests.support.stores import StoreFactory
from vrs.v1 import common_pb2, search_pb2


@pytest_asyncio.fixture
async def vrs(
    tmp_path: Path, effnet: ImageEmbedder, store_factory: StoreFactory
) -> AsyncIterator[Vrs]:
    store = store_factory(effnet.model_id, effnet.dimension)
    async with search_vrs(tmp_path, effnet, store) as running:
        yield running


@pytest_asyncio.fixture
async def random_vrs(vrs: Vrs, effnet: ImageEmbedder) -> tuple[Vrs, list[dict], np.ndarray]:
    products, vectors = await index_random_catalog(vrs, effnet)
    return vrs, products, vectors


async def test_batch_search_fails_bad_queries_alone(
    random_vrs: tuple[Vrs, list[dict], np.ndarray],
) -> None:
    vrs, _, _ = random_vrs
    response = await vrs.search.BatchSearch(
        search_pb2.BatchSearchRequest(
            queries=[
                search_pb2.SearchQuery(
                    by_product=search_pb2.SearchByProductRequest(product_id="r001", k=3)
                ),
                search_pb2.SearchQuery(
                    by_product=search_pb2.SearchByProductRequest(product_id="nope")
                ),
                search_pb2.SearchQuery(
                    by_image=search_pb2.SearchByImageRequest(
                        image=common_pb2.ImageSource(data=product_jpeg()), k=2
                    )
                ),
                search_pb2.SearchQuery(
                    by_image=search_pb2.SearchByImageRequest(
                        image=common_pb2.ImageSource(data=b"junk")
                    )
                ),
            ]
        )
    )
    kinds = [r.WhichOneof("result") for r in response.results]
    assert kinds == ["response", "error", "response", "error"]
    assert len(response.results[0].response.matches) == 3
    assert response.results[1].error.code == common_pb2.NOT_FOUND
    assert len(response.results[2].response.matches) == 2
    assert response.results[3].error.code == common_pb2.INVALID_ARGUMENT
