"""A running vrs with its HTTP gateway on a free loopback port, for the API tests: real
uvicorn, real gRPC services in the same process, a real Qdrant Edge store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.images import product_jpeg
from tests.support.search_env import Vrs, running_vrs
from tests.support.stored_catalog import toy_catalog
from vrs.catalog.products import StoredProduct
from vrs.settings import StoreSettings
from vrs.store.qdrant_edge_store import QdrantEdgeStore

HTTP_TIMEOUT_S = 60.0


@dataclass
class WebVrs:
    """The gateway's URL and an HTTP client on it, beside the gRPC side of the process."""

    vrs: Vrs
    url: str
    http: httpx.AsyncClient


def web_catalog(model_id: str, dimension: int, photos: Path, n: int = 30) -> list[StoredProduct]:
    """toy_catalog's products (categories a/b/c, brands x/y, price = index, every fourth out
    of stock), each with a photo file under `photos` (p0.jpg ... written by the caller)."""
    return [
        replace(
            s,
            product=replace(s.product, image_uri=(photos / f"{s.product.product_id}.jpg").as_uri()),
        )
        for s in toy_catalog(model_id, dimension, n)
    ]


@asynccontextmanager
async def running_web(
    tmp_path: Path,
    embedder: ImageEmbedder,
    products: Sequence[StoredProduct] = (),
    *,
    store_model_id: str | None = None,
    **sections: dict[str, Any],
) -> AsyncIterator[WebVrs]:
    """vrs serving `products` (written to its store first) with the gateway on; `sections`
    override the test settings (web, auth, images, ...). `store_model_id` opens the store
    for another model than the embedder's."""
    store = QdrantEdgeStore.open(
        StoreSettings(data_dir=tmp_path / "web-edge"),
        store_model_id or embedder.model_id,
        embedder.dimension,
    )
    if products:
        store.upsert(list(products))
    web = {"port": 0, **sections.pop("web", {})}
    try:
        async with running_vrs(tmp_path, embedder, store, web=web, **sections) as vrs:
            url = vrs.server.web_url
            if url is None:
                raise RuntimeError("the server runs no web gateway")
            async with httpx.AsyncClient(base_url=url, timeout=HTTP_TIMEOUT_S) as http:
                yield WebVrs(vrs, url, http)
    finally:
        store.close()


def write_photos(folder: Path, products: Sequence[StoredProduct]) -> Path:
    """A photo file for each product at its image URI (a drawn shirt per product)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, stored in enumerate(products):
        (folder / f"{stored.product.product_id}.jpg").write_bytes(product_jpeg(seed=i))
    return folder


# The fields of every match in a search answer.
MATCH_FIELDS = {
    "product_id",
    "distance",
    "title",
    "category",
    "brand",
    "price",
    "currency",
    "in_stock",
    "group_id",
    "image_url",
    "variants",
}


@asynccontextmanager
async def toy_web(tmp_path: Path, embedder: ImageEmbedder) -> AsyncIterator[WebVrs]:
    """A gateway in front of real services holding web_catalog's products and their photos."""
    photos = tmp_path / "photos"
    products = web_catalog(embedder.model_id, embedder.dimension, photos)
    write_photos(photos, products)
    async with running_web(tmp_path, embedder, products) as running:
        yield running


async def search_upload(web: WebVrs, **fields: str | list[str]) -> httpx.Response:
    """POST /v1/search/image with a drawn shirt photo as the multipart `image` file."""
    files = {"image": ("shirt.jpg", product_jpeg(seed=7), "image/jpeg")}
    return await web.http.post("/v1/search/image", files=files, data=fields)
