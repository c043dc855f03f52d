"""The HTTP/JSON API against a real gateway (uvicorn on loopback) in front of real services:
every endpoint, the decided JSON shapes, the filters."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.images import product_jpeg
from tests.support.web_env import MATCH_FIELDS, WebVrs, search_upload, toy_web


@pytest_asyncio.fixture
async def web(tmp_path: Path, photo_embedder: ImageEmbedder) -> AsyncIterator[WebVrs]:
    async with toy_web(tmp_path, photo_embedder) as running:
        yield running


async def test_search_by_uploaded_photo_answers_in_the_decided_shape(web: WebVrs) -> None:
    response = await search_upload(web, k="5")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"model_id", "from_cache", "query", "matches", "over_budget", "region"}
    assert body["query"] == {"product_id": None}
    assert set(body["region"]) == {"x", "y", "width", "height", "source"}
    assert len(body["matches"]) == 5
    first = body["matches"][0]
    assert set(first) == MATCH_FIELDS
    assert first["image_url"] == f"/v1/products/{first['product_id']}/image"
    distances = [m["distance"] for m in body["matches"]]
    assert distances == sorted(distances)


async def test_search_by_json_base64_photo(web: WebVrs) -> None:
    data = base64.b64encode(product_jpeg(seed=7)).decode()
    response = await web.http.post("/v1/search/image", json={"image": {"data": data}, "k": 3})
    assert response.status_code == 200, response.text
    assert len(response.json()["matches"]) == 3


async def test_search_by_json_uri_under_the_file_root(web: WebVrs, tmp_path: Path) -> None:
    uri = (tmp_path / "photos" / "p3.jpg").as_uri()
    response = await web.http.post("/v1/search/image", json={"image": {"uri": uri}, "k": 3})
    assert response.status_code == 200, response.text
    assert len(response.json()["matches"]) == 3


async def test_max_price_keeps_only_products_within_the_budget(web: WebVrs) -> None:
    response = await search_upload(web, k="30", max_price="9.5")
    assert response.status_code == 200, response.text
    prices = [m["price"] for m in response.json()["matches"]]
    assert prices and all(p <= 9.5 for p in prices)
    assert len(prices) == 10  # p0..p9


async def test_uploaded_search_honours_categories_brands_and_stock(web: WebVrs) -> None:
    response = await search_upload(web, k="30", category=["a", "b"], brand="x", in_stock="true")
    assert response.status_code == 200, response.text
    matches = response.json()["matches"]
    assert matches
    assert all(m["category"] in ("a", "b") and m["brand"] == "x" and m["in_stock"] for m in matches)


async def test_similar_honours_filters_and_leaves_out_the_product(web: WebVrs) -> None:
    response = await web.http.get(
        "/v1/products/p1/similar",
        params=[("k", "30"), ("category", "a"), ("in_stock", "true"), ("max_price", "20")],
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["query"] == {"product_id": "p1"}
    matches = body["matches"]
    assert matches
    assert all(m["category"] == "a" and m["in_stock"] and m["price"] <= 20 for m in matches)
    assert "p1" not in {m["product_id"] for m in matches}


async def test_product_lookup_answers_its_attributes(web: WebVrs) -> None:
    response = await web.http.get("/v1/products/p5")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "product_id": "p5",
        "title": "product 5",
        "category": "c",
        "brand": "y",
        "price": 5.0,
        "currency": "",
        "in_stock": True,
        "group_id": "",
        "image_url": "/v1/products/p5/image",
        "images": ["/v1/products/p5/image"],
    }


async def test_product_image_is_served_with_cache_headers(web: WebVrs, tmp_path: Path) -> None:
    photo = (tmp_path / "photos" / "p2.jpg").read_bytes()
    response = await web.http.get("/v1/products/p2/image")
    assert response.status_code == 200
    assert response.content == photo
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["cache-control"] == "public, max-age=3600"
    assert response.headers["etag"] == f'"{hashlib.sha256(photo).hexdigest()}"'


async def test_product_image_unchanged_since_its_etag_is_not_sent_again(web: WebVrs) -> None:
    etag = (await web.http.get("/v1/products/p2/image")).headers["etag"]
    again = await web.http.get("/v1/products/p2/image", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""


async def test_catalog_names_size_model_categories_brands_and_currencies(
    web: WebVrs, photo_embedder: ImageEmbedder
) -> None:
    response = await web.http.get("/v1/catalog")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "points": 30,
        "model_id": photo_embedder.model_id,
        "categories": ["a", "b", "c"],
        "brands": ["x", "y"],
        "currencies": [],
    }


async def test_health_endpoints_answer(web: WebVrs) -> None:
    assert (await web.http.get("/healthz")).json() == {"status": "ok"}
    ready = await web.http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}


async def test_openapi_document_lists_every_endpoint(web: WebVrs) -> None:
    paths = (await web.http.get("/openapi.json")).json()["paths"]
    assert {
        "/v1/search/image",
        "/v1/products/{product_id}/similar",
        "/v1/products/{product_id}",
        "/v1/products/{product_id}/image",
        "/v1/catalog",
        "/healthz",
        "/readyz",
    } <= set(paths)
    docs = await web.http.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


async def test_an_uploaded_region_is_searched_and_named_in_the_answer(web: WebVrs) -> None:
    response = await search_upload(web, k="3", region="0.1,0.2,0.5,0.6")
    assert response.status_code == 200, response.text
    assert response.json()["region"] == {
        "x": 0.1,
        "y": 0.2,
        "width": 0.5,
        "height": 0.6,
        "source": "given",
    }


async def test_a_json_region_is_searched_and_named_in_the_answer(web: WebVrs) -> None:
    data = base64.b64encode(product_jpeg(seed=7)).decode()
    box = {"x": 0.0, "y": 0.25, "width": 1.0, "height": 0.5}
    response = await web.http.post(
        "/v1/search/image", json={"image": {"data": data}, "region": box, "k": 3}
    )
    assert response.status_code == 200, response.text
    assert response.json()["region"] == {**box, "source": "given"}
