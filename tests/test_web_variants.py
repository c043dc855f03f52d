"""Products with several photos and variant groups through the HTTP API: each match shows the
photo that matched, collapse=group gives one card per group with its variants within the
filters, more like this leaves a product's own variants out unless asked, and a product lists
all its photos."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest_asyncio

from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.images import product_jpeg
from tests.support.web_env import WebVrs, running_web
from vrs.catalog.products import Product, StoredPhoto, StoredProduct

# (product id, group, price, photos: lengths along the first axis, or other axes by index)
CATALOG: list[tuple[str, str, float, list[float | str]]] = [
    ("dress-blue", "dress", 30.0, [1.0, "axis-1", "axis-2"]),
    ("dress-red", "dress", 90.0, [1.1]),
    ("dress-green", "dress", 35.0, [1.2]),
    ("skirt", "", 20.0, [1.3]),
    ("hat", "", 10.0, [0.9]),
    ("back-view", "", 15.0, ["axis-2-near"]),
]


def vector(place: float | str, dimension: int) -> np.ndarray:
    v = np.zeros(dimension, dtype=np.float32)
    if isinstance(place, float):
        v[0] = place
    elif place == "axis-2-near":
        v[2] = 1.05
    else:
        v[int(place.split("-")[1])] = 1.0
    return v


@pytest_asyncio.fixture
async def web(tmp_path: Path, photo_embedder: ImageEmbedder) -> AsyncIterator[WebVrs]:
    folder = tmp_path / "photos"
    folder.mkdir()
    products = []
    for n, (pid, group, price, places) in enumerate(CATALOG):
        photos = []
        for i, place in enumerate(places):
            path = folder / f"{pid}-{i}.jpg"
            path.write_bytes(product_jpeg(seed=10 * n + i))
            photos.append(
                StoredPhoto(
                    path.as_uri(), f"{pid}-{i}", vector=vector(place, photo_embedder.dimension)
                )
            )
        product = Product(pid, price=price, group_id=group, image_uri=photos[0].image_uri)
        products.append(StoredProduct(product, photo_embedder.model_id, photos=tuple(photos)))
    async with running_web(tmp_path, photo_embedder, products) as running:
        yield running


async def test_a_product_lists_all_its_photos(web: WebVrs, tmp_path: Path) -> None:
    body = (await web.http.get("/v1/products/dress-blue")).json()
    assert body["group_id"] == "dress"
    assert body["images"] == [
        "/v1/products/dress-blue/image",
        "/v1/products/dress-blue/image?photo=1",
        "/v1/products/dress-blue/image?photo=2",
    ]
    third = await web.http.get(body["images"][2])
    assert third.status_code == 200
    assert third.content == (tmp_path / "photos" / "dress-blue-2.jpg").read_bytes()


async def test_a_photo_the_product_does_not_have_is_a_404_naming_it(web: WebVrs) -> None:
    response = await web.http.get("/v1/products/dress-blue/image?photo=3")
    assert response.status_code == 404
    assert "has 3 photos, no photo 3" in response.json()["error"]["message"]


async def test_a_match_shows_the_photo_that_matched(web: WebVrs) -> None:
    body = (await web.http.get("/v1/products/back-view/similar?k=1")).json()
    [match] = body["matches"]
    assert match["product_id"] == "dress-blue"
    assert match["image_url"] == "/v1/products/dress-blue/image?photo=2"


async def test_collapse_group_shows_a_group_once_with_its_variants(web: WebVrs) -> None:
    body = (await web.http.get("/v1/products/hat/similar?k=2&collapse=group")).json()
    assert [m["product_id"] for m in body["matches"]] == ["dress-blue", "skirt"]
    variants = body["matches"][0]["variants"]
    assert [v["product_id"] for v in variants] == ["dress-red", "dress-green"]
    assert variants[0] == {
        "product_id": "dress-red",
        "price": 90.0,
        "currency": "",
        "in_stock": True,
        "image_url": "/v1/products/dress-red/image",
    }
    assert body["matches"][1]["variants"] == []


async def test_the_budget_applies_to_each_variant(web: WebVrs) -> None:
    body = (await web.http.get("/v1/products/hat/similar?k=2&collapse=group&max_price=40")).json()
    dress = body["matches"][0]
    assert dress["product_id"] == "dress-blue"
    assert [v["product_id"] for v in dress["variants"]] == ["dress-green"]


async def test_more_like_this_leaves_its_own_variants_out_unless_asked(web: WebVrs) -> None:
    default = (await web.http.get("/v1/products/dress-green/similar?k=3")).json()
    assert not {"dress-blue", "dress-red"} & {m["product_id"] for m in default["matches"]}
    asked = await web.http.get("/v1/products/dress-green/similar?k=3&include_variants=true")
    assert "dress-red" in {m["product_id"] for m in asked.json()["matches"]}


async def test_a_collapse_that_is_not_product_or_group_is_a_400(web: WebVrs) -> None:
    response = await web.http.get("/v1/products/hat/similar?collapse=colour")
    assert response.status_code == 400
    assert "collapse" in response.json()["error"]["message"]
