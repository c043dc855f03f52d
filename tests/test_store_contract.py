"""One suite, both adapters: qdrant-client (local mode) and Qdrant Edge."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from qdrant_client import models as qm

from tests.support.stores import StoreFactory
from vrs.catalog.products import Product, StoredProduct
from vrs.errors import InvalidVector, ModelMismatch
from vrs.settings import StoreSettings
from vrs.store.filters import ProductFilter
from vrs.store.qdrant_server_store import collection_params
from vrs.store.query import SearchRequest

DIM = 16
MODEL = "toy@test"


def stored(pid: str, vector: np.ndarray, **attrs: Any) -> StoredProduct:
    return StoredProduct(
        Product(product_id=pid, **attrs),
        MODEL,
        image_sha256="x" + pid,
        vector=vector.astype(np.float32),
    )


def catalog(n: int = 60, seed: int = 1) -> list[StoredProduct]:
    rng = np.random.default_rng(seed)
    return [
        stored(
            f"p{i}",
            rng.normal(size=DIM),
            price=float(i),
            category=("a", "b", "c")[i % 3],
            brand=("x", "y")[i % 2],
            in_stock=i % 4 != 0,
            title=f"product {i}",
        )
        for i in range(n)
    ]


def test_upsert_get_roundtrip(store_factory: StoreFactory) -> None:
    store = store_factory(MODEL, DIM)
    items = catalog(5)
    store.upsert(items)
    got = store.get(["p1", "p3", "missing"], with_vectors=True)
    assert set(got) == {"p1", "p3"}
    assert got["p1"].product == items[1].product
    assert got["p1"].image_sha256 == "xp1"
    assert got["p1"].vector is not None
    np.testing.assert_allclose(got["p1"].vector, items[1].vector, rtol=1e-6)  # type: ignore[arg-type]


def test_same_product_twice_is_one_point(store_factory: StoreFactory) -> None:
    store = store_factory(MODEL, DIM)
    first = catalog(3)
    store.upsert(first)
    store.upsert([stored("p1", np.ones(DIM), price=99.0)])
    assert store.info().points == 3
    assert store.get(["p1"])["p1"].product.price == 99.0


def test_search_orders_by_euclidean_distance(store_factory: StoreFactory) -> None:
    store = store_factory(MODEL, DIM)
    items = catalog()
    store.upsert(items)
    query = np.random.default_rng(9).normal(size=DIM).astype(np.float32)
    hits = store.search(SearchRequest(query, 7, exact=True))
    expected = sorted(items, key=lambda s: float(np.linalg.norm(s.vector - query)))[:7]  # type: ignore[operator]
    assert [h.stored.product.product_id for h in hits] == [e.product.product_id for e in expected]
    for hit, item in zip(hits, expected, strict=True):
        assert hit.distance == pytest.approx(float(np.linalg.norm(item.vector - query)), rel=1e-4)  # type: ignore[operator]


def test_filters_and_max_distance(store_factory: StoreFactory) -> None:
    store = store_factory(MODEL, DIM)
    items = catalog()
    store.upsert(items)
    query = items[10].vector
    assert query is not None
    flt = ProductFilter(
        min_price=5,
        max_price=40,
        categories=("a", "b"),
        brands=("x",),
        in_stock_only=True,
        exclude_product_ids=("p10",),
    ).validated()
    hits = store.search(SearchRequest(query, 100, flt, exact=True))

    def ok(s: StoredProduct) -> bool:
        p = s.product
        return (
            5 <= (p.price or 0) <= 40
            and p.category in ("a", "b")
            and p.brand == "x"
            and p.in_stock
            and p.product_id != "p10"
        )

    assert {h.stored.product.product_id for h in hits} == {
        s.product.product_id for s in items if ok(s)
    }
    assert store.count(flt) == len(hits)
    limit = sorted(h.distance for h in hits)[2]
    near = store.search(SearchRequest(query, 100, flt, limit + 1e-4, exact=True))
    assert len(near) == 3
    assert all(h.distance <= limit + 1e-4 for h in near)


def test_unknown_category_matches_nothing(store_factory: StoreFactory) -> None:
    store = store_factory(MODEL, DIM)
    store.upsert(catalog(10))
    nowhere = ProductFilter(categories=("nope",))
    hits = store.search(SearchRequest(np.zeros(DIM, np.float32), 5, nowhere, exact=False))
    assert hits == []


def test_set_attributes_keeps_the_vector(store_factory: StoreFactory) -> None:
    store = store_factory(MODEL, DIM)
    items = catalog(3)
    store.upsert(items)
    before = store.get(["p2"], with_vectors=True)["p2"]
    store.set_attributes([StoredProduct(Product("p2", price=1.5), MODEL, image_sha256="xp2")])
    after = store.get(["p2"], with_vectors=True)["p2"]
    assert after.product.price == 1.5
    np.testing.assert_allclose(after.vector, before.vector)  # type: ignore[arg-type]


def test_delete(store_factory: StoreFactory) -> None:
    store = store_factory(MODEL, DIM)
    store.upsert(catalog(4))
    store.delete(["p0", "p2", "never-there"])
    assert set(store.get(["p0", "p1", "p2", "p3"])) == {"p1", "p3"}
    assert store.info().points == 2


def test_writes_check_dimension_and_model(store_factory: StoreFactory) -> None:
    store = store_factory(MODEL, DIM)
    with pytest.raises(InvalidVector, match="dimension 15, expected 16"):
        store.upsert([stored("bad", np.ones(DIM - 1))])
    with pytest.raises(InvalidVector, match="NaN"):
        store.upsert([stored("nan", np.full(DIM, np.nan))])
    other = StoredProduct(Product("other"), "another@model", vector=np.ones(DIM, np.float32))
    with pytest.raises(ModelMismatch, match="another@model"):
        store.upsert([other])
    assert store.info().points == 0


def test_reopening_is_idempotent_and_keeps_points(store_factory: StoreFactory) -> None:
    store = store_factory(MODEL, DIM)
    store.upsert(catalog(3))
    info = store.info()
    assert info.collection.endswith("__" + MODEL)
    assert info.dimension == DIM
    assert info.points == 3


def test_optimize_builds_the_index(store_factory: StoreFactory) -> None:
    store = store_factory(MODEL, DIM)
    store.upsert(catalog(400))
    store.optimize()
    info = store.info()
    assert info.points == 400
    if info.kind == "qdrant-edge":  # local mode has no index; a server indexes by itself
        assert info.indexed_vectors == 400
        hits = store.search(SearchRequest(np.zeros(DIM, np.float32), 5, exact=False))
        assert len(hits) == 5


def test_server_collections_take_cluster_layout_from_settings() -> None:
    settings = StoreSettings(
        shard_number=6,
        replication_factor=2,
        write_consistency_factor=2,
        scalar_quantization=True,
        on_disk_vectors=True,
    )
    params = collection_params(settings, 2048)
    assert (
        params["shard_number"],
        params["replication_factor"],
        params["write_consistency_factor"],
    ) == (6, 2, 2)
    assert params["vectors_config"].size == 2048
    assert params["vectors_config"].distance == qm.Distance.EUCLID
    assert params["vectors_config"].on_disk is True
    assert params["quantization_config"].scalar.type == qm.ScalarType.INT8
    assert (
        collection_params(StoreSettings(scalar_quantization=False), 8)["quantization_config"]
        is None
    )
