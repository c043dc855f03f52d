"""Distinct results from nearest points, where the engine has no grouping: each product's (or
variant group's) best photo stands for it, and candidates are fetched until k distinct ones
are certain or none are left."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

from vrs.catalog.vectors import Vector
from vrs.store.query import Collapse, Hit

# First fetch: this many candidates per result wanted (a product has ~4 photos in a real
# catalog); each further round fetches this many times more.
OVERSAMPLE = 4
# No query fetches more candidates than this per query vector: a catalog where even this many
# points hold fewer than k distinct products answers with the ones they hold.
MAX_CANDIDATES = 16_384


def key_of(hit: Hit, collapse: Collapse) -> str:
    """What `hit` is distinct by: its product, or its variant group."""
    product = hit.stored.product
    return product.product_id if collapse is Collapse.PRODUCT else product.group_key


def collapsed(hits: Sequence[Hit], collapse: Collapse) -> list[Hit]:
    """The best hit of each product (or group), nearest first."""
    best: dict[str, Hit] = {}
    for hit in hits:
        key = key_of(hit, collapse)
        if key not in best or hit.distance < best[key].distance:
            best[key] = hit
    return sorted(best.values(), key=lambda h: h.distance)


def distinct_nearest(
    nearest: Callable[[int], list[list[Hit]]], k: int, collapse: Collapse
) -> list[Hit]:
    """The k nearest distinct products (or groups). `nearest(limit)` answers, for each query
    vector, its `limit` nearest points, nearest first.

    Exact when the lists are: a product absent from every list is farther from each query
    vector than that list's k-th distinct product, so it cannot be among the first k once
    every list holds k distinct ones (or is exhausted)."""
    limit = max(k * OVERSAMPLE, 16)
    while True:
        lists = nearest(limit)
        settled = all(
            len(found) < limit or len({key_of(h, collapse) for h in found}) >= k for found in lists
        )
        if settled or limit >= MAX_CANDIDATES:
            return collapsed(list(itertools.chain.from_iterable(lists)), collapse)[:k]
        limit = min(limit * OVERSAMPLE, MAX_CANDIDATES)


def nearest_distance(vector: Vector, queries: Sequence[Vector]) -> float:
    """The Euclidean distance from `vector` to the nearest of `queries`."""
    return min(float(((vector - q) ** 2).sum() ** 0.5) for q in queries)
