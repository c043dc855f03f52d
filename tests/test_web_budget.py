"""Budgets over the HTTP API (a real gateway in front of real services): the products a
little over a budget, "similar, cheaper", and the budget's currency."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.web_env import MATCH_FIELDS, WebVrs, search_upload, toy_web


@pytest_asyncio.fixture
async def web(tmp_path: Path, photo_embedder: ImageEmbedder) -> AsyncIterator[WebVrs]:
    async with toy_web(tmp_path, photo_embedder) as running:
        yield running


async def test_too_few_in_budget_answers_the_nearest_a_little_over_it_apart(web: WebVrs) -> None:
    response = await search_upload(web, k="12", max_price="8")
    assert response.status_code == 200, response.text
    body = response.json()
    assert all(m["price"] <= 8 for m in body["matches"]) and len(body["matches"]) < 12
    over = body["over_budget"]
    assert over and len(over) <= 12 - len(body["matches"])
    for item in over:
        assert set(item) == MATCH_FIELDS | {"over_by"}
        assert 8 < item["price"] <= 10
        assert item["over_by"] == pytest.approx(item["price"] - 8)


@pytest.mark.parametrize("where", ["form", "query"])
async def test_over_budget_false_answers_none(web: WebVrs, where: str) -> None:
    if where == "form":
        response = await search_upload(web, k="12", max_price="8", over_budget="false")
    else:
        similar = "/v1/products/p29/similar?k=12&max_price=8&over_budget=false"
        response = await web.http.get(similar)
    assert response.status_code == 200, response.text
    assert response.json()["over_budget"] == []


async def test_similar_cheaper_keeps_only_products_below_the_products_price(web: WebVrs) -> None:
    response = await web.http.get("/v1/products/p10/similar?k=30&cheaper=true")
    assert response.status_code == 200, response.text
    prices = [m["price"] for m in response.json()["matches"]]
    assert prices and all(p < 10 for p in prices)
    assert len(prices) == 10, "every product priced 0-9"


async def test_similar_cheaper_with_a_lower_max_price_keeps_the_lower(web: WebVrs) -> None:
    response = await web.http.get("/v1/products/p10/similar?k=30&cheaper=true&max_price=4")
    prices = [m["price"] for m in response.json()["matches"]]
    assert prices and max(prices) <= 4


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"max_price": "8", "currency": "DOLLARS"}, "is not a 3-letter ISO 4217 code"),
        ({"over_budget": "maybe"}, "'maybe' is not true or false"),
    ],
)
async def test_bad_budget_fields_are_400_naming_them(
    web: WebVrs, fields: dict[str, str], message: str
) -> None:
    response = await search_upload(web, **fields)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]["message"]
