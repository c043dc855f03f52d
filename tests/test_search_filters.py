"""Filtered search over real gRPC returns what brute force over the catalog returns."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.images import product_jpeg
from tests.support.search_env import Vrs
from vrs.v1 import common_pb2, search_pb2

FILTERS = [
    {},
    {"max_price": 50.0},
    {"min_price": 20.0, "max_price": 60.0},
    {"categories": ["shoes"]},
    {"categories": ["shoes", "bag"], "max_price": 100.0},
    {"brands": ["Contoso"], "in_stock_only": True},
    {"categories": ["dress"], "brands": ["Tailspin"], "min_price": 30.0, "in_stock_only": True},
    {"min_price": 195.0},
]


def matches(p: dict, flt: dict) -> bool:
    return (
        (flt.get("min_price") is None or p["price"] >= flt["min_price"])
        and (flt.get("max_price") is None or p["price"] <= flt["max_price"])
        and (not flt.get("categories") or p["category"] in flt["categories"])
        and (not flt.get("brands") or p["brand"] in flt["brands"])
        and (not flt.get("in_stock_only") or p["in_stock"])
    )


@pytest.mark.parametrize("flt", FILTERS, ids=[str(i) for i in range(len(FILTERS))])
async def test_filtered_results_equal_brute_force(
    random_vrs: tuple[Vrs, list[dict], np.ndarray], flt: dict
) -> None:
    vrs, products, vectors = random_vrs
    for probe in (0, 77, 150, 299):
        response = await vrs.search.SearchByProduct(
            search_pb2.SearchByProductRequest(
                product_id=products[probe]["product_id"],
                k=10,
                filter=search_pb2.SearchFilter(**flt),
            )
        )
        distances = np.linalg.norm(vectors - vectors[probe], axis=1)
        expected = [
            products[i]["product_id"]
            for i in np.argsort(distances)
            if i != probe and matches(products[i], flt)
        ][:10]
        got = [m.product_id for m in response.matches]
        assert got == expected, flt
        for m in response.matches:
            assert matches(
                {
                    "price": m.product.price,
                    "category": m.product.category,
                    "brand": m.product.brand,
                    "in_stock": m.product.in_stock,
                },
                flt,
            )
            index = int(m.product_id[1:])
            assert m.distance == pytest.approx(float(distances[index]), rel=1e-3)


async def test_unknown_category_is_fine_and_returns_nothing(
    random_vrs: tuple[Vrs, list[dict], np.ndarray],
) -> None:
    vrs, _, _ = random_vrs
    response = await vrs.search.SearchByImage(
        search_pb2.SearchByImageRequest(
            image=common_pb2.ImageSource(data=product_jpeg()),
            filter=search_pb2.SearchFilter(categories=["spaceships"]),
        )
    )
    assert list(response.matches) == []
