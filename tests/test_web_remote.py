"""`vrs serve --service web`: the gateway alone, calling the gRPC services over the network."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from services.composition import start_web_alone
from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.factories import settings_for
from tests.support.images import product_jpeg
from tests.support.redis_server import free_port
from tests.support.web_env import HTTP_TIMEOUT_S, running_web, web_catalog, write_photos


@asynccontextmanager
async def gateway_alone(
    tmp_path: Path, search: str, embedder: str
) -> AsyncIterator[httpx.AsyncClient]:
    settings = settings_for(
        tmp_path,
        web={"port": 0, "search_address": search, "embedder_address": embedder, "timeout_s": 5},
        images={"file_root": tmp_path / "photos"},
    )
    server = await start_web_alone(settings)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=HTTP_TIMEOUT_S) as http:
            yield http
    finally:
        await server.stop()


async def test_the_gateway_alone_answers_through_the_grpc_services(
    tmp_path: Path, photo_embedder: ImageEmbedder
) -> None:
    products = web_catalog(photo_embedder.model_id, photo_embedder.dimension, tmp_path / "photos")
    write_photos(tmp_path / "photos", products)
    async with running_web(tmp_path, photo_embedder, products) as web:
        address = f"127.0.0.1:{web.vrs.server.port}"
        async with gateway_alone(tmp_path, address, address) as http:
            files = {"image": ("shirt.jpg", product_jpeg(seed=7), "image/jpeg")}
            found = await http.post("/v1/search/image", files=files, data={"max_price": "9"})
            assert found.status_code == 200, found.text
            prices = [m["price"] for m in found.json()["matches"]]
            assert prices and all(p <= 9 for p in prices)
            similar = await http.get("/v1/products/p1/similar", params={"category": "a"})
            assert {m["category"] for m in similar.json()["matches"]} == {"a"}
            assert (await http.get("/v1/products/p5")).json()["title"] == "product 5"
            photo = await http.get("/v1/products/p2/image")
            assert photo.content == (tmp_path / "photos" / "p2.jpg").read_bytes()
            catalog = (await http.get("/v1/catalog")).json()
            assert (catalog["points"], catalog["model_id"]) == (30, photo_embedder.model_id)
            assert (await http.get("/readyz")).status_code == 200


async def test_unreachable_services_are_a_503_naming_them(tmp_path: Path) -> None:
    dead = f"127.0.0.1:{free_port()}"
    async with gateway_alone(tmp_path, dead, dead) as http:
        product = await http.get("/v1/products/p1")
        assert product.status_code == 503
        assert product.json()["error"]["code"] == "UNAVAILABLE"
        assert "embedder service unavailable" in product.json()["error"]["message"]
        files = {"image": ("shirt.jpg", product_jpeg(), "image/jpeg")}
        search = await http.post("/v1/search/image", files=files)
        assert search.status_code == 503
        assert "search service unavailable" in search.json()["error"]["message"]
        assert (await http.get("/readyz")).status_code == 503
        assert (await http.get("/healthz")).status_code == 200
