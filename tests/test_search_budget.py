"""Budgets over real gRPC and both engines: the nearest products a little over a budget that
too few fit, "cheaper than this product", and budgets compared only in their own currency (or
converted with an operator's rates)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import pytest_asyncio

from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.search_env import Vrs, VrsStarter
from vrs.store.base import VectorStore
from vrs.v1 import common_pb2, embedder_pb2, search_pb2

OVER = 0.25  # VRS_SEARCH_OVER_BUDGET_MAX_FRACTION's default

# (filter, k): too few fit each budget, so the nearest a little over it are answered apart.
TIGHT_BUDGETS = [
    ({"max_price": 12.0}, 10),
    ({"max_price": 40.0, "categories": ["dress"]}, 10),
    ({"min_price": 30.0, "max_price": 31.0, "in_stock_only": True}, 8),
    ({"max_price": 5.0}, 5),  # nothing fits: every answer is over budget
]


def fits(p: dict[str, Any], flt: dict[str, Any], low: float | None, high: float | None) -> bool:
    """p passes flt's other conditions and low < price <= high (low None: flt's min, kept)."""
    if low is None:
        if flt.get("min_price") is not None and p["price"] < flt["min_price"]:
            return False
    elif p["price"] <= low:
        return False
    return (
        (high is None or p["price"] <= high)
        and (not flt.get("categories") or p["category"] in flt["categories"])
        and (not flt.get("in_stock_only") or p["in_stock"])
    )


def nearest(
    products: list[dict[str, Any]], vectors: np.ndarray, probe: int, keep: Any, k: int
) -> list[str]:
    distances = np.linalg.norm(vectors - vectors[probe], axis=1)
    order = [int(i) for i in np.argsort(distances)]
    return [products[i]["product_id"] for i in order if i != probe and keep(products[i])][:k]


async def by_product(vrs: Vrs, product_id: str, **fields: Any) -> search_pb2.SearchResponse:
    flt = fields.pop("filter", {})
    return await vrs.search.SearchByProduct(
        search_pb2.SearchByProductRequest(
            product_id=product_id, filter=search_pb2.SearchFilter(**flt), **fields
        )
    )


@pytest.mark.parametrize(
    ("flt", "k"), TIGHT_BUDGETS, ids=[str(i) for i, _ in enumerate(TIGHT_BUDGETS)]
)
async def test_too_few_in_budget_brings_the_nearest_a_little_over_it_apart(
    random_vrs: tuple[Vrs, list[dict[str, Any]], np.ndarray], flt: dict[str, Any], k: int
) -> None:
    vrs, products, vectors = random_vrs
    probe = 42
    response = await by_product(vrs, products[probe]["product_id"], k=k, filter=flt)
    high = flt["max_price"]
    within = nearest(products, vectors, probe, lambda p: fits(p, flt, None, high), k)
    assert [m.product_id for m in response.matches] == within
    assert len(within) < k
    over = nearest(products, vectors, probe, lambda p: fits(p, flt, high, high * (1 + OVER)), k)
    assert [m.product_id for m in response.over_budget] == over[: k - len(within)]
    by_id = {p["product_id"]: p for p in products}
    for m in response.over_budget:
        assert m.over_by == pytest.approx(round(by_id[m.product_id]["price"] - high, 2))
        assert 0 < m.over_by <= high * OVER + 0.01
    assert all(not m.HasField("over_by") for m in response.matches)


async def test_over_budget_false_never_answers_any(
    random_vrs: tuple[Vrs, list[dict[str, Any]], np.ndarray],
) -> None:
    vrs, products, _ = random_vrs
    flt, k = TIGHT_BUDGETS[0]
    on = await by_product(vrs, products[42]["product_id"], k=k, filter=flt)
    off = await by_product(vrs, products[42]["product_id"], k=k, filter=flt, over_budget=False)
    assert on.over_budget and not off.over_budget
    assert [m.product_id for m in off.matches] == [m.product_id for m in on.matches]


async def test_a_budget_k_products_fit_has_nothing_over_it(
    random_vrs: tuple[Vrs, list[dict[str, Any]], np.ndarray],
) -> None:
    vrs, products, _ = random_vrs
    response = await by_product(vrs, products[42]["product_id"], k=5, filter={"max_price": 150.0})
    assert len(response.matches) == 5 and not response.over_budget


async def test_a_photo_search_brings_over_budget_products_too(
    random_vrs: tuple[Vrs, list[dict[str, Any]], np.ndarray],
) -> None:
    from tests.support.images import product_jpeg

    vrs, _, _ = random_vrs
    response = await vrs.search.SearchByImage(
        search_pb2.SearchByImageRequest(
            image=common_pb2.ImageSource(data=product_jpeg()),
            k=10,
            filter=search_pb2.SearchFilter(max_price=12.0),
        )
    )
    assert len(response.matches) < 10
    assert response.over_budget
    assert all(12.0 < m.product.price <= 15.0 for m in response.over_budget)


@pytest.mark.parametrize("explicit_max", [None, 1000.0, 30.0])
async def test_cheaper_keeps_only_products_priced_below_the_product_the_lower_bound_wins(
    random_vrs: tuple[Vrs, list[dict[str, Any]], np.ndarray], explicit_max: float | None
) -> None:
    vrs, products, vectors = random_vrs
    probe = 7
    own = products[probe]["price"]
    flt = {} if explicit_max is None else {"max_price": explicit_max}
    response = await by_product(vrs, products[probe]["product_id"], k=10, filter=flt, cheaper=True)
    if explicit_max is not None and explicit_max < own:
        keep = lambda p: p["price"] <= explicit_max  # noqa: E731
    else:
        keep = lambda p: p["price"] < own  # noqa: E731
    assert [m.product_id for m in response.matches] == nearest(products, vectors, probe, keep, 10)


async def test_cheaper_than_the_cheapest_product_is_nothing_and_nothing_over_budget(
    random_vrs: tuple[Vrs, list[dict[str, Any]], np.ndarray],
) -> None:
    vrs, products, _ = random_vrs
    cheapest = min(products, key=lambda p: p["price"])
    response = await by_product(vrs, cheapest["product_id"], k=10, cheaper=True)
    assert not response.matches and not response.over_budget


async def test_cheaper_than_a_product_without_a_price_is_refused_naming_it(
    random_vrs: tuple[Vrs, list[dict[str, Any]], np.ndarray], effnet: ImageEmbedder
) -> None:
    vrs, _, vectors = random_vrs
    await upsert(vrs, effnet, [({"product_id": "no-price"}, vectors[3])])
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await by_product(vrs, "no-price", cheaper=True)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "product 'no-price' has no price" in (refused.value.details() or "")


# A catalog priced in three currencies: the same prices, so only the currency rule decides.
PRICED = [
    ("usd", "USD", 10.0),
    ("eur", "EUR", 10.0),
    ("gbp", "GBP", 10.0),
    ("eur-dear", "EUR", 40.0),
]


async def upsert(
    vrs: Vrs, effnet: ImageEmbedder, items: list[tuple[dict[str, Any], np.ndarray]]
) -> None:
    response = await vrs.embedder.UpsertProducts(
        embedder_pb2.UpsertProductsRequest(
            items=[
                embedder_pb2.ProductUpsert(
                    product=common_pb2.ProductAttributes(**attributes),
                    vector=common_pb2.Embedding(values=v.tolist(), model_id=effnet.model_id),
                )
                for attributes, v in items
            ]
        )
    )
    assert {r.outcome for r in response.results} == {embedder_pb2.UPSERT_OUTCOME_UPSERTED}


async def mixed_catalog(vrs: Vrs, effnet: ImageEmbedder) -> None:
    rng = np.random.default_rng(3)
    await upsert(
        vrs,
        effnet,
        [
            (
                {"product_id": pid, "currency": cur, "price": price},
                rng.normal(size=effnet.dimension),
            )
            for pid, cur, price in PRICED
        ]
        + [
            (
                {"product_id": "probe", "currency": "USD", "price": 1.0},
                rng.normal(size=effnet.dimension),
            )
        ],
    )


@pytest_asyncio.fixture
async def mixed(start_vrs: VrsStarter, store: VectorStore, effnet: ImageEmbedder) -> Vrs:
    vrs = await start_vrs(store)
    await mixed_catalog(vrs, effnet)
    return vrs


async def test_a_budget_over_several_currencies_without_one_is_refused_naming_them(
    mixed: Vrs,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await by_product(mixed, "probe", filter={"max_price": 20.0})
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "the catalog has prices in EUR, GBP, USD" in (refused.value.details() or "")


async def test_without_a_budget_every_currency_comes_back(mixed: Vrs) -> None:
    response = await by_product(mixed, "probe", k=10)
    assert {m.product_id for m in response.matches} == {pid for pid, _, _ in PRICED}


@pytest.mark.parametrize(
    ("currency", "expected"), [("EUR", {"eur"}), ("eur", {"eur"}), ("USD", {"usd"}), ("JPY", set())]
)
async def test_a_budget_is_compared_only_with_prices_in_its_currency(
    mixed: Vrs, currency: str, expected: set[str]
) -> None:
    flt = {"max_price": 20.0, "currency": currency}
    response = await by_product(mixed, "probe", k=10, filter=flt, over_budget=False)
    assert {m.product_id for m in response.matches} == expected


async def test_a_malformed_currency_is_refused_naming_it(mixed: Vrs) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await by_product(mixed, "probe", filter={"max_price": 20.0, "currency": "EURO"})
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "currency 'EURO' is not a 3-letter ISO 4217 code" in (refused.value.details() or "")


@pytest_asyncio.fixture
async def converting(
    start_vrs: VrsStarter, store: VectorStore, effnet: ImageEmbedder, tmp_path: Path
) -> Vrs:
    rates = tmp_path / "rates.json"
    # 1 USD = 0.5 EUR = 2 GBP: 10 EUR is 20 USD, 10 GBP is 5 USD.
    rates.write_text(json.dumps({"base": "USD", "rates": {"EUR": 0.5, "GBP": 2}}))
    vrs = await start_vrs(store, pricing={"rates_file": str(rates)})
    await mixed_catalog(vrs, effnet)
    return vrs


@pytest.mark.parametrize(
    ("max_usd", "expected"),
    [
        (12.0, {"usd", "gbp"}),
        (25.0, {"usd", "gbp", "eur"}),
        (6.0, {"gbp"}),
        (100.0, {"usd", "gbp", "eur", "eur-dear"}),
    ],
)
async def test_with_rates_a_budget_reaches_every_currency_converted(
    converting: Vrs, max_usd: float, expected: set[str]
) -> None:
    flt = {"max_price": max_usd, "currency": "USD"}
    response = await by_product(converting, "probe", k=10, filter=flt, over_budget=False)
    assert {m.product_id for m in response.matches} == expected
    shown = {m.product_id: (m.product.price, m.product.currency) for m in response.matches}
    for pid, currency, price in PRICED:
        if pid in shown:
            assert shown[pid] == (price, currency), "shown in its own currency"


async def test_with_rates_over_by_is_in_the_budgets_currency(converting: Vrs) -> None:
    # 10 EUR is 20 USD: 2 over a budget of 18 USD (within 25% over it).
    flt = {"max_price": 18.0, "currency": "USD"}
    response = await by_product(converting, "probe", k=10, filter=flt)
    over = {m.product_id: m.over_by for m in response.over_budget}
    assert over == {"eur": pytest.approx(2.0)}
