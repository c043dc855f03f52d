"""Products with several photos and variant groups, on both engines (qdrant-client local mode
and Qdrant Edge): one point per photo, operations on the product reach every photo, searches
return each product (or group) once with its best photo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from qdrant_client import QdrantClient

from tests.support.photo_catalog import (
    DIM,
    MODEL,
    axis,
    legacy_payload,
    photographed,
    random_catalog,
    write_raw,
)
from tests.support.stores import StoreFactory
from vrs.catalog.ids import point_id
from vrs.catalog.products import Product, StoredProduct
from vrs.settings import StoreSettings
from vrs.store.filters import ProductFilter
from vrs.store.qdrant_edge_store import QdrantEdgeStore
from vrs.store.qdrant_server_store import QdrantServerStore
from vrs.store.query import Collapse, Hit, SearchRequest


def ids(hits: list[Hit]) -> list[str]:
    return [h.stored.product.product_id for h in hits]


def test_each_photo_is_a_point_and_the_product_reads_back_whole(
    store_factory: StoreFactory,
) -> None:
    store = store_factory(MODEL, DIM)
    store.upsert([photographed("dress", [axis(0), axis(1), axis(2)])])
    assert store.info().points == 3
    dress = store.get(["dress"], with_vectors=True)["dress"]
    assert [p.image_uri for p in dress.photos] == [f"file:///dress/{n}.jpg" for n in range(3)]
    assert dress.product.image_uri == "file:///dress/0.jpg"
    np.testing.assert_allclose(dress.photos[2].vector, axis(2))  # type: ignore[arg-type]


def test_a_search_returns_each_product_once_with_its_best_photo(
    store_factory: StoreFactory,
) -> None:
    store = store_factory(MODEL, DIM)
    near = [axis(0, 1.0 + 0.01 * n) for n in range(4)]
    store.upsert([photographed("many", [axis(3), *near]), photographed("one", [axis(0, 1.2)])])
    hits = store.search(SearchRequest(axis(0), 2, exact=True))
    assert ids(hits) == ["many", "one"]
    best = hits[0].stored
    assert best.photo_index == 1 and best.product.image_uri == "file:///many/1.jpg"
    assert hits[0].distance == pytest.approx(0.0, abs=1e-5)


def test_an_attribute_change_reaches_every_photo(store_factory: StoreFactory) -> None:
    store = store_factory(MODEL, DIM)
    dress = photographed("dress", [axis(0), axis(1), axis(2)], price=50.0)
    store.upsert([dress, photographed("cheap", [axis(5)], price=5.0)])
    store.set_attributes([StoredProduct(Product("dress", price=80.0, image_uri=""), MODEL)])
    budget = ProductFilter(max_price=60.0)
    for photo in range(3):
        assert ids(store.search(SearchRequest(axis(photo), 5, budget, exact=True))) == ["cheap"]
    again = store.get(["dress"])["dress"]
    assert again.product.price == 80.0
    assert [p.image_uri for p in again.photos] == [p.image_uri for p in dress.photos]


def test_a_delete_removes_every_photo(store_factory: StoreFactory) -> None:
    store = store_factory(MODEL, DIM)
    store.upsert([photographed("dress", [axis(0), axis(1)]), photographed("shoe", [axis(2)])])
    store.delete(["dress"])
    assert store.info().points == 1
    assert store.get(["dress"]) == {}


def test_deleting_points_removes_only_those_photos(store_factory: StoreFactory) -> None:
    store = store_factory(MODEL, DIM)
    store.upsert([photographed("dress", [axis(0), axis(1), axis(2)])])
    dropped = store.get(["dress"])["dress"].photos[1]
    store.delete_points([dropped.point_id])
    left = store.get(["dress"])["dress"]
    assert [p.image_uri for p in left.photos] == ["file:///dress/0.jpg", "file:///dress/2.jpg"]


def test_collapsing_by_group_shows_each_group_once_with_its_variants(
    store_factory: StoreFactory,
) -> None:
    store = store_factory(MODEL, DIM)
    store.upsert(
        [
            photographed("dress-blue", [axis(0)], group_id="dress", price=30.0),
            photographed("dress-red", [axis(0, 1.1)], group_id="dress", price=90.0),
            photographed("dress-green", [axis(0, 1.2)], group_id="dress", price=35.0),
            photographed("skirt", [axis(0, 1.3)], price=20.0),
        ]
    )
    hits = store.search(SearchRequest(axis(0), 5, exact=True, collapse=Collapse.GROUP))
    assert ids(hits) == ["dress-blue", "skirt"]
    found = store.variants(axis(0), ["g:dress"], ProductFilter(), 9)["g:dress"]
    assert [h.stored.product.product_id for h in found] == [
        "dress-blue",
        "dress-red",
        "dress-green",
    ]


def test_the_budget_applies_per_variant(store_factory: StoreFactory) -> None:
    store = store_factory(MODEL, DIM)
    store.upsert(
        [
            photographed("dress-red", [axis(0)], group_id="dress", price=90.0),
            photographed("dress-blue", [axis(0, 1.5)], group_id="dress", price=30.0),
        ]
    )
    budget = ProductFilter(max_price=40.0)
    hits = store.search(SearchRequest(axis(0), 5, budget, exact=True, collapse=Collapse.GROUP))
    assert ids(hits) == ["dress-blue"]


def test_more_like_this_uses_every_photo_of_the_product(store_factory: StoreFactory) -> None:
    store = store_factory(MODEL, DIM)
    store.upsert(
        [
            photographed("outfit", [axis(0), axis(7)]),
            photographed("like-its-back", [axis(7, 1.05)]),
            photographed("like-its-front", [axis(0, 1.2)]),
            photographed("unrelated", [axis(3)]),
        ]
    )
    near = tuple(p.vector for p in store.get(["outfit"], with_vectors=True)["outfit"].photos)
    own = ProductFilter(exclude_product_ids=("outfit",))
    hits = store.search(SearchRequest(near, 3, own, exact=True))  # type: ignore[arg-type]
    assert ids(hits) == ["like-its-back", "like-its-front", "unrelated"]
    assert [h.distance for h in hits[:2]] == pytest.approx([0.05, 0.2], abs=1e-4)


def test_legacy_one_photo_points_keep_working(store_factory: StoreFactory) -> None:
    """Points written before products had several photos: the product id's own point, no
    photo index or group key."""
    store = store_factory(MODEL, DIM)
    store.upsert([photographed("new", [axis(1)], price=5.0)])
    write_raw(store, point_id("old"), axis(0), legacy_payload(Product("old", price=10.0), MODEL))
    assert ids(store.search(SearchRequest(axis(0), 2, exact=True))) == ["old", "new"]
    assert store.get(["old"])["old"].product.price == 10.0
    store.set_attributes([StoredProduct(Product("old", price=11.0), MODEL)])
    assert ids(store.search(SearchRequest(axis(0), 2, ProductFilter(max_price=10.5)))) == ["new"]
    store.delete(["old"])
    assert store.get(["old"]) == {}


@pytest.mark.parametrize("collapse", list(Collapse))
@pytest.mark.parametrize("budget", [None, 40.0], ids=["unfiltered", "budget"])
def test_grouping_on_edge_and_on_a_server_find_the_same_products(
    tmp_path: Path, collapse: Collapse, budget: float | None
) -> None:
    products = random_catalog(products=300, photos=(1, 6), groups=60, seed=3)
    edge = QdrantEdgeStore.open(StoreSettings(data_dir=tmp_path), MODEL, DIM)
    client = QdrantClient(":memory:")
    server = QdrantServerStore.open_for_writing(client, StoreSettings(), MODEL, DIM)
    for store in (edge, server):
        store.upsert(products)
    rng = np.random.default_rng(9)
    flt = ProductFilter(max_price=budget)
    for _ in range(10):
        query = rng.normal(size=DIM).astype(np.float32)
        request = SearchRequest(query, 10, flt, exact=True, collapse=collapse)
        on_edge, on_server = edge.search(request), server.search(request)
        assert ids(on_edge) == ids(on_server)
        distances = [h.distance for h in on_server]
        assert [h.distance for h in on_edge] == pytest.approx(distances, rel=1e-4)
        assert len(set(ids(on_edge))) == 10
    edge.close()
    server.close()
