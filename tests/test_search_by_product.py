"""More-like-this over real gRPC: the product's neighbours, never itself; unknown is
NOT_FOUND."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from tests.support.search_env import Vrs
from vrs.v1 import search_pb2


async def test_search_by_product_excludes_itself_and_max_distance(
    random_vrs: tuple[Vrs, list[dict], np.ndarray],
) -> None:
    vrs, _, _ = random_vrs
    response = await vrs.search.SearchByProduct(
        search_pb2.SearchByProductRequest(product_id="r010", k=100)
    )
    assert len(response.matches) == 100
    assert "r010" not in {m.product_id for m in response.matches}
    cutoff = (response.matches[4].distance + response.matches[5].distance) / 2
    near = await vrs.search.SearchByProduct(
        search_pb2.SearchByProductRequest(product_id="r010", k=100, max_distance=cutoff)
    )
    assert [m.product_id for m in near.matches] == [m.product_id for m in response.matches[:5]]
    default = await vrs.search.SearchByProduct(search_pb2.SearchByProductRequest(product_id="r010"))
    assert len(default.matches) == 10


async def test_unknown_product_is_not_found(searching_vrs: Vrs) -> None:
    vrs = searching_vrs
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await vrs.search.SearchByProduct(search_pb2.SearchByProductRequest(product_id="ghost"))
    assert failure.value.code() == grpc.StatusCode.NOT_FOUND
    assert "ghost" in (failure.value.details() or "")
