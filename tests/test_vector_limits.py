"""Vectors whose distances float32 cannot represent are refused; the largest accepted ones
still search correctly on both real engines."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest

from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.products import unit_vector, vector_upsert
from tests.support.search_env import Vrs
from vrs.catalog.vectors import checked_vector
from vrs.errors import InvalidVector
from vrs.limits import MAX_VECTOR_NORM
from vrs.v1 import common_pb2, embedder_pb2, search_pb2

OUT = embedder_pb2
DIM = 4
FLT_MAX = float(np.finfo(np.float32).max)

REFUSED = [
    ("finite in float32 but huge", [3e38, 0, 0, 0], "L2 norm 3e+38, above 1e+18"),
    ("beyond float32", [1e39, 0, 0, 0], "L2 norm 1e+39"),
    ("norm just above the bound", [MAX_VECTOR_NORM * 1.001, 0, 0, 0], "above 1e+18"),
    ("small components, huge norm", [0.6e18, 0.6e18, 0.6e18, 0.6e18], "L2 norm 1.2e+18"),
    ("NaN", [math.nan, 0, 0, 0], "NaN or infinite"),
    ("infinity", [-math.inf, 0, 0, 0], "NaN or infinite"),
    ("integer beyond float", [10**400, 0, 0, 0], "not a list of numbers"),
    ("text", ["a", "b", "c", "d"], "not a list of numbers"),
    ("wrong dimension", [1.0, 2.0], "dimension 2, expected 4"),
]


@pytest.mark.parametrize(
    ("values", "reason"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED]
)
def test_unrepresentable_vectors_are_refused_naming_why(values: list[Any], reason: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # refused by name, not first cast to inf with a warning
        with pytest.raises(InvalidVector) as refused:
            checked_vector(values, DIM)
    assert reason in str(refused.value)


def test_the_largest_accepted_vectors_are_a_finite_distance_apart() -> None:
    a = checked_vector(np.full(DIM, MAX_VECTOR_NORM / math.sqrt(DIM)), DIM)
    b = checked_vector(-a, DIM)
    squared = np.sum(np.square(a - b, dtype=np.float32), dtype=np.float32)
    assert np.isfinite(squared) and squared < FLT_MAX / 10


async def upsert(vrs: Vrs, *items: OUT.ProductUpsert) -> list[OUT.UpsertResult]:
    response = await vrs.embedder.UpsertProducts(OUT.UpsertProductsRequest(items=items))
    return list(response.results)


async def test_a_huge_finite_vector_is_invalid_argument_and_the_others_land(
    vrs: Vrs, effnet: ImageEmbedder
) -> None:
    huge = np.zeros(effnet.dimension)
    huge[0] = 3e38
    results = await upsert(
        vrs,
        vector_upsert("huge", huge, effnet.model_id),
        vector_upsert("normal", unit_vector(effnet.dimension, 1), effnet.model_id),
    )
    assert results[0].outcome == OUT.UPSERT_OUTCOME_FAILED
    assert results[0].error.code == common_pb2.INVALID_ARGUMENT
    assert "vector of 'huge' has L2 norm 3e+38" in results[0].error.message
    assert results[1].outcome == OUT.UPSERT_OUTCOME_UPSERTED


async def test_the_largest_accepted_vectors_search_both_ways(
    vrs: Vrs, effnet: ImageEmbedder
) -> None:
    # Two opposite vectors just inside the bound: the largest distance the store can hold.
    big = unit_vector(effnet.dimension, 7) * np.float32(MAX_VECTOR_NORM * 0.999)
    results = await upsert(
        vrs,
        vector_upsert("big", big, effnet.model_id),
        vector_upsert("big-opposite", -big, effnet.model_id),
        vector_upsert("normal", unit_vector(effnet.dimension, 1), effnet.model_id),
    )
    assert [r.outcome for r in results] == [OUT.UPSERT_OUTCOME_UPSERTED] * 3

    by_big = await vrs.search.SearchByProduct(search_pb2.SearchByProductRequest(product_id="big"))
    assert [m.product_id for m in by_big.matches] == ["normal", "big-opposite"]
    assert all(math.isfinite(m.distance) for m in by_big.matches)
    assert by_big.matches[1].distance == pytest.approx(2 * 0.999 * MAX_VECTOR_NORM, rel=1e-3)

    by_normal = await vrs.search.SearchByProduct(
        search_pb2.SearchByProductRequest(product_id="normal", k=10)
    )
    assert {m.product_id for m in by_normal.matches} == {"big", "big-opposite"}
    assert all(math.isfinite(m.distance) for m in by_normal.matches)
