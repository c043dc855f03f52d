"""A batch of searches fails its bad queries alone; the good ones are answered."""

from __future__ import annotations

import numpy as np

from tests.support.images import product_jpeg
from tests.support.search_env import Vrs
from vrs.v1 import common_pb2, search_pb2


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
