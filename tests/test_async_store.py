"""The async store facade answers as the store it wraps, on both real engines, with deadlines."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import numpy as np
import pytest
import pytest_asyncio

from tests.support.qdrant_endpoints import server_store_at, silent_port
from tests.support.redis_server import free_port
from tests.support.stored_catalog import toy_catalog
from tests.support.stores import StoreFactory
from vrs.errors import NotFound, Unavailable
from vrs.store.async_store import AsyncStore
from vrs.store.base import VectorStore
from vrs.store.filters import ProductFilter
from vrs.store.query import SearchRequest

DIM = 16
MODEL = "toy@async"
# Opened beside the facade's store, written through the sync API only, to compare writes.
TWIN_MODEL = "toy@async-twin"
SELECTIVE = ProductFilter(max_price=20.0, categories=("a", "b"), in_stock_only=True)


@pytest_asyncio.fixture
async def facade(store_factory: StoreFactory) -> AsyncIterator[AsyncStore]:
    """A store of either engine holding toy_catalog(), behind the facade."""
    store = store_factory(MODEL, DIM)
    store.upsert(toy_catalog(MODEL, DIM))
    async_store = AsyncStore(store, timeout_s=10.0)
    yield async_store
    await async_store.close()


def twin(store_factory: StoreFactory) -> VectorStore:
    store = store_factory(TWIN_MODEL, DIM)
    store.upsert(toy_catalog(TWIN_MODEL, DIM))
    return store


async def test_get_answers_as_the_sync_store(facade: AsyncStore) -> None:
    ids = ["p1", "p7", "missing"]
    got = await facade.get(ids, with_vectors=True)
    expected = facade.sync.get(ids, with_vectors=True)
    assert got == expected
    assert set(got) == {"p1", "p7"}
    for pid in got:
        np.testing.assert_array_equal(got[pid].vector, expected[pid].vector)
    assert (await facade.get(ids)) == facade.sync.get(ids)


async def test_search_answers_as_the_sync_store(facade: AsyncStore) -> None:
    query = toy_catalog(MODEL, DIM)[5].vector
    assert query is not None
    for exact in (True, False):
        request = SearchRequest(query, 5, SELECTIVE, exact=exact, hnsw_ef=64)
        got = await facade.search(request, exact_threshold=0)
        assert got.hits == facade.sync.search(request)
        assert got.hits and got.exact is exact
    capped = SearchRequest(query, 10, max_distance=0.5, exact=True)
    assert (await facade.search(capped, exact_threshold=0)).hits == facade.sync.search(capped)


async def test_a_search_near_a_product_uses_its_stored_vector(facade: AsyncStore) -> None:
    stored = facade.sync.get(["p5"], with_vectors=True)["p5"]
    assert stored.vector is not None
    by_id = await facade.search(SearchRequest("p5", 5, exact=True), exact_threshold=0)
    by_vector = await facade.search(SearchRequest(stored.vector, 5, exact=True), exact_threshold=0)
    assert by_id == by_vector


async def test_a_search_near_an_unknown_product_is_not_found(facade: AsyncStore) -> None:
    with pytest.raises(NotFound, match="'nope' is not in the catalog"):
        await facade.search(SearchRequest("nope", 5), exact_threshold=0)


@pytest.mark.parametrize(("threshold", "exact"), [(0, False), (10_000, True)])
async def test_an_unforced_search_is_exact_when_the_filtered_set_is_small(
    facade: AsyncStore, threshold: int, exact: bool
) -> None:
    query = SearchRequest(np.zeros(DIM, np.float32), 5)
    assert (await facade.search(query, exact_threshold=threshold)).exact is exact


async def test_count_answers_as_the_sync_store(facade: AsyncStore) -> None:
    assert await facade.count(SELECTIVE) == facade.sync.count(SELECTIVE)
    assert await facade.count(ProductFilter()) == 30


async def test_info_answers_as_the_sync_store(facade: AsyncStore) -> None:
    assert await facade.info() == facade.sync.info()


async def test_model_id_and_dimension_answer_as_the_sync_store(facade: AsyncStore) -> None:
    assert await facade.model_id() == facade.sync.model_id == MODEL
    assert await facade.dimension() == facade.sync.dimension == DIM


async def test_upsert_writes_what_a_sync_upsert_writes(
    facade: AsyncStore, store_factory: StoreFactory
) -> None:
    sync = twin(store_factory)
    extra = toy_catalog(MODEL, DIM, n=35, seed=2)[30:]
    await facade.upsert(extra)
    sync.upsert([replace(s, model_id=TWIN_MODEL) for s in extra])
    ids = [s.product.product_id for s in extra]
    got = await facade.get(ids)
    assert {pid: s.product for pid, s in got.items()} == {
        pid: s.product for pid, s in sync.get(ids).items()
    }
    assert len(got) == 5


async def test_set_attributes_rewrites_what_a_sync_call_rewrites(
    facade: AsyncStore, store_factory: StoreFactory
) -> None:
    sync = twin(store_factory)
    [before] = (await facade.get(["p3"], with_vectors=True)).values()
    renamed = replace(before, product=replace(before.product, title="renamed", price=99.0))
    await facade.set_attributes([renamed])
    sync.set_attributes([replace(renamed, model_id=TWIN_MODEL)])
    [after] = (await facade.get(["p3"], with_vectors=True)).values()
    assert after.product == sync.get(["p3"])["p3"].product
    assert after.product.title == "renamed"
    np.testing.assert_array_equal(after.vector, before.vector)


async def test_delete_removes_what_a_sync_delete_removes(
    facade: AsyncStore, store_factory: StoreFactory
) -> None:
    sync = twin(store_factory)
    await facade.delete(["p1", "p2", "missing"])
    sync.delete(["p1", "p2", "missing"])
    assert await facade.count(ProductFilter()) == sync.count(ProductFilter()) == 28
    assert await facade.get(["p1", "p2"]) == {}


async def test_optimize_without_a_deadline_answers_as_the_sync_store(
    facade: AsyncStore, store_factory: StoreFactory
) -> None:
    sync = twin(store_factory)
    assert await facade.optimize(timeout_s=None) == sync.optimize()
    assert (await facade.info()).indexed_vectors == sync.info().indexed_vectors


async def test_a_call_past_its_deadline_is_unavailable_naming_qdrant_and_the_deadline() -> None:
    with silent_port() as port:
        async_store = AsyncStore(server_store_at(port, MODEL, DIM), timeout_s=0.2)
        try:
            with pytest.raises(Unavailable) as failure:
                await async_store.count(ProductFilter())
        finally:
            await async_store.close()
    assert failure.value.dependency == "Qdrant"
    assert "count" in str(failure.value)
    assert "0.2s deadline" in str(failure.value)


async def test_an_unreachable_qdrant_server_is_unavailable() -> None:
    async_store = AsyncStore(server_store_at(free_port(), MODEL, DIM), timeout_s=5.0)
    try:
        with pytest.raises(Unavailable) as failure:
            await async_store.get(["p1"])
    finally:
        await async_store.close()
    assert failure.value.dependency == "Qdrant"
    assert str(failure.value).startswith("Qdrant unavailable: get: ")


async def test_a_call_after_close_is_unavailable(facade: AsyncStore) -> None:
    await facade.close()
    with pytest.raises(Unavailable, match="closed"):
        await facade.info()


async def test_closing_the_facade_and_then_its_store_is_harmless(facade: AsyncStore) -> None:
    await facade.close()
    await facade.close()
    facade.sync.close()
