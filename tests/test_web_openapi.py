"""The OpenAPI document describes every input the endpoints read: each path and query
parameter, form field and JSON body field, as the routes' parameter models declare them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from fastapi import FastAPI

from services.web.filters import SearchFilters
from services.web.models import SearchImageIn
from tests.support.web_app import offline_app
from tests.support.web_openapi import (
    api_routes,
    dangling_refs,
    declared_inputs,
    documented_inputs,
    model_names,
)

PHOTO_SEARCH = ("/v1/search/image", "post")
SIMILAR = ("/v1/products/{product_id}/similar", "get")


@pytest_asyncio.fixture
async def app() -> AsyncIterator[FastAPI]:
    async with offline_app() as app:
        yield app


async def test_every_route_documents_every_input_it_declares(app: FastAPI) -> None:
    document = app.openapi()
    routes = list(api_routes(app))
    assert {(path, method) for path, method, _ in routes} >= {PHOTO_SEARCH, SIMILAR}
    for path, method, route in routes:
        declared = declared_inputs(route)
        documented = documented_inputs(document, path, method)
        for place in ("path", "query", "form"):
            assert documented[place] == declared[place], (method, path, place)


async def test_the_filters_are_documented_wherever_a_search_takes_them(app: FastAPI) -> None:
    document = app.openapi()
    similar = documented_inputs(document, *SIMILAR)
    photo = documented_inputs(document, *PHOTO_SEARCH)
    assert {"max_price", "category", "brand", "in_stock"} <= similar["query"]
    assert {"image", "max_price", "category", "brand", "in_stock"} <= photo["form"]
    assert model_names(SearchFilters) <= similar["query"] & photo["form"]


async def test_the_photo_search_documents_its_json_body(app: FastAPI) -> None:
    """The JSON body is read by the route itself: the document has it from SearchImageIn."""
    json_fields = documented_inputs(app.openapi(), *PHOTO_SEARCH)["json"]
    assert json_fields == model_names(SearchImageIn)
    assert {"image.data", "image.uri", "categories", "max_price"} <= json_fields


async def test_every_reference_in_the_document_names_a_schema(app: FastAPI) -> None:
    assert dangling_refs(app.openapi()) == []
