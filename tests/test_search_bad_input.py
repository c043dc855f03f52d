"""Bad search input is INVALID_ARGUMENT with a message naming the problem."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
import pytest_asyncio

from services.embedder.embedding import ImageEmbedder
from tests.support.images import product_jpeg
from tests.support.random_catalog import search_vrs
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


BAD = {
    "corrupt-image": (
        search_pb2.SearchByImageRequest(image=common_pb2.ImageSource(data=b"not an image")),
        "not an image",
    ),
    "k=0": (
        search_pb2.SearchByImageRequest(image=common_pb2.ImageSource(data=product_jpeg()), k=0),
        "k must be between 1 and 100",
    ),
    "k=101": (
        search_pb2.SearchByImageRequest(image=common_pb2.ImageSource(data=product_jpeg()), k=101),
        "got 101",
    ),
    "min>max": (
        search_pb2.SearchByImageRequest(
            image=common_pb2.ImageSource(data=product_jpeg()),
            filter=search_pb2.SearchFilter(min_price=50, max_price=10),
        ),
        "min_price 50.0 is above",
    ),
    "negative-distance": (
        search_pb2.SearchByImageRequest(
            image=common_pb2.ImageSource(data=product_jpeg()), max_distance=-1
        ),
        "max_distance",
    ),
    "no-image": (search_pb2.SearchByImageRequest(), "image is missing"),
}


@pytest.mark.parametrize("name", list(BAD))
async def test_bad_input_is_invalid_argument(vrs: Vrs, name: str) -> None:
    request, reason = BAD[name]
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await vrs.search.SearchByImage(request)
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason in (failure.value.details() or "")
