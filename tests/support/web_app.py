"""The gateway's app with nothing behind it, for what needs no answer from the services (its
OpenAPI document, its routes): every search or lookup is Unavailable."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.search.results import ImageQuery, ProductQuery, SearchResult
from services.web.app import create_web_app
from services.web.auth import HttpAuth
from services.web.backend import CatalogProduct, CatalogSummary
from services.web.gateway import Gateway
from vrs.errors import Unavailable
from vrs.images.source import ImageFetcher
from vrs.settings import ImageSettings, WebSettings

NOTHING = "search service"


class NoBackend:
    """A SearchBackend whose services are never there."""

    async def by_image(self, query: ImageQuery) -> SearchResult:
        raise Unavailable(NOTHING, "offline test app")

    async def by_product(self, query: ProductQuery) -> SearchResult:
        raise Unavailable(NOTHING, "offline test app")

    async def product(self, product_id: str) -> CatalogProduct:
        raise Unavailable(NOTHING, "offline test app")

    async def catalog(self) -> CatalogSummary:
        raise Unavailable(NOTHING, "offline test app")

    async def check_ready(self) -> None:
        raise Unavailable(NOTHING, "offline test app")

    async def close(self) -> None:
        """Nothing to close."""


@asynccontextmanager
async def offline_app() -> AsyncIterator[FastAPI]:
    """The app as `vrs serve` makes it (auth off), in front of NoBackend."""
    fetcher = ImageFetcher(ImageSettings())
    try:
        yield create_web_app(Gateway(NoBackend(), fetcher, HttpAuth(None)), WebSettings())
    finally:
        await fetcher.close()
