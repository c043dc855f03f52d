"""Callers of the HTTP API: the same tokens file and roles as the gRPC services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest_asyncio

from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.auth_env import auth_section, write_tokens_file
from tests.support.images import product_jpeg
from tests.support.web_env import WebVrs, running_web, web_catalog, write_photos


@dataclass
class AuthWeb:
    web: WebVrs
    tokens: dict[str, str]

    def bearer(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}


@pytest_asyncio.fixture
async def secured(tmp_path: Path, photo_embedder: ImageEmbedder) -> AsyncIterator[AuthWeb]:
    products = web_catalog(photo_embedder.model_id, photo_embedder.dimension, tmp_path / "photos")
    write_photos(tmp_path / "photos", products)
    tokens_file = tmp_path / "tokens"
    tokens = write_tokens_file(tokens_file, {"shop-front": ["search"], "sync": ["ingest"]})
    async with running_web(
        tmp_path, photo_embedder, products, auth=auth_section(tokens_file)
    ) as web:
        yield AuthWeb(web, tokens)


async def test_a_request_without_a_token_is_a_401(secured: AuthWeb) -> None:
    response = await secured.web.http.get("/v1/products/p1")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"] == {
        "code": "UNAUTHENTICATED",
        "message": "missing bearer token (Authorization: Bearer <token>)",
    }


async def test_an_unknown_token_is_a_401_that_does_not_echo_it(secured: AuthWeb) -> None:
    response = await secured.web.http.get(
        "/v1/catalog", headers={"Authorization": "Bearer vrs_not-a-real-token"}
    )
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "unknown or revoked token"
    assert "not-a-real-token" not in response.text


async def test_a_caller_without_the_search_role_is_a_403(secured: AuthWeb) -> None:
    response = await secured.web.http.get("/v1/products/p1", headers=secured.bearer("sync"))
    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "PERMISSION_DENIED",
        "message": "caller 'sync' lacks role 'search' for GET /v1/products/p1",
    }


async def test_a_photo_search_needs_a_token_and_the_search_role(secured: AuthWeb) -> None:
    files = {"image": ("shirt.jpg", product_jpeg(seed=7), "image/jpeg")}
    anonymous = await secured.web.http.post("/v1/search/image", files=files)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "UNAUTHENTICATED"
    refused = await secured.web.http.post(
        "/v1/search/image", json={"image": {"uri": "file:///x.jpg"}}, headers=secured.bearer("sync")
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == (
        "caller 'sync' lacks role 'search' for POST /v1/search/image"
    )
    admitted = await secured.web.http.post(
        "/v1/search/image", files=files, data={"k": "2"}, headers=secured.bearer("shop-front")
    )
    assert admitted.status_code == 200, admitted.text
    assert len(admitted.json()["matches"]) == 2


async def test_a_caller_with_the_search_role_gets_answers(secured: AuthWeb) -> None:
    headers = secured.bearer("shop-front")
    for path in ("/v1/products/p1", "/v1/products/p1/similar", "/v1/catalog"):
        response = await secured.web.http.get(path, headers=headers)
        assert response.status_code == 200, (path, response.text)
    image = await secured.web.http.get("/v1/products/p1/image", headers=headers)
    assert image.status_code == 200
    # Behind auth, shared caches must not keep the photos.
    assert image.headers["cache-control"] == "private, max-age=3600"


async def test_health_and_the_page_stay_open(secured: AuthWeb) -> None:
    for path in ("/healthz", "/readyz", "/openapi.json"):
        assert (await secured.web.http.get(path)).status_code == 200, path
