"""Bad search input is INVALID_ARGUMENT with a message naming the problem."""

from __future__ import annotations

import grpc
import pytest

from tests.support.images import product_jpeg
from tests.support.search_env import Vrs
from vrs.v1 import common_pb2, search_pb2

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
    "empty-region": (
        search_pb2.SearchByImageRequest(
            image=common_pb2.ImageSource(data=product_jpeg()),
            region=common_pb2.Region(x=0.1, y=0.1, width=0, height=0.5),
        ),
        "region 0.1,0.1,0,0.5 is empty",
    ),
    "region-past-the-edge": (
        search_pb2.SearchByImageRequest(
            image=common_pb2.ImageSource(data=product_jpeg()),
            region=common_pb2.Region(x=0.6, y=0, width=0.5, height=0.5),
        ),
        "ends outside the photo",
    ),
    "region-not-finite": (
        search_pb2.SearchByImageRequest(
            image=common_pb2.ImageSource(data=product_jpeg()),
            region=common_pb2.Region(x=float("nan"), y=0, width=0.5, height=0.5),
        ),
        "not four finite numbers",
    ),
    "too-many-categories": (
        search_pb2.SearchByImageRequest(
            image=common_pb2.ImageSource(data=product_jpeg()),
            filter=search_pb2.SearchFilter(categories=[f"c{i}" for i in range(101)]),
        ),
        "filter categories lists 101 values, at most 100",
    ),
    "too-many-brands": (
        search_pb2.SearchByImageRequest(
            image=common_pb2.ImageSource(data=product_jpeg()),
            filter=search_pb2.SearchFilter(brands=[f"b{i}" for i in range(200_000)]),
        ),
        "filter brands lists 200000 values, at most 100",
    ),
}


@pytest.mark.parametrize("name", list(BAD))
async def test_bad_input_is_invalid_argument(searching_vrs: Vrs, name: str) -> None:
    vrs = searching_vrs
    request, reason = BAD[name]
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await vrs.search.SearchByImage(request)
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason in (failure.value.details() or "")
