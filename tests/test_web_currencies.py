"""GET /v1/catalog names the currencies the catalog's prices are in (a real gateway in front
of real services): the page asks for the budget's currency only when there are several."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.stored_catalog import toy_catalog
from tests.support.web_env import running_web


@pytest.mark.parametrize(
    ("priced_in", "named"),
    [
        (("",), []),
        (("EUR",), ["EUR"]),
        (("USD", "EUR", ""), ["EUR", "USD"]),
    ],
    ids=["unpriced", "one", "two"],
)
async def test_catalog_names_the_currencies_of_its_prices(
    tmp_path: Path, photo_embedder: ImageEmbedder, priced_in: tuple[str, ...], named: list[str]
) -> None:
    products = [
        replace(s, product=replace(s.product, currency=priced_in[i % len(priced_in)]))
        for i, s in enumerate(toy_catalog(photo_embedder.model_id, photo_embedder.dimension))
    ]
    async with running_web(tmp_path, photo_embedder, products) as web:
        response = await web.http.get("/v1/catalog")
    assert response.status_code == 200, response.text
    assert response.json()["currencies"] == named
