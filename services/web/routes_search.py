"""Searches: by an uploaded or referenced photo, and "more like this" a catalog product."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.search.results import ProductQuery
from services.web.dependencies import GatewayDep, SearchCaller
from services.web.filters import SearchFilters
from services.web.image_query import ImageQueryDep
from services.web.models import SearchImageIn, SearchOut
from services.web.openapi_docs import ERRORS, json_body

router = APIRouter(tags=["search"])


@router.post(
    "/v1/search/image",
    responses=ERRORS,
    # The signature declares the multipart form; the JSON alternative is read by hand.
    openapi_extra=json_body(SearchImageIn),
    # One photo, and no more fields than the filters could fill.
    form_limits={"max_files": 1, "max_fields": 64},
)
async def search_image(
    # Before the query: a refused caller's JSON body is never read.
    _caller: SearchCaller,
    query: ImageQueryDep,
    gateway: GatewayDep,
) -> SearchOut:
    """Products that look like a photo: multipart upload (`image` file) or JSON with
    base64 data or a URI, within a price range, categories, brands, stock, distance."""
    return SearchOut.of(await gateway.backend.by_image(query))


@router.get("/v1/products/{product_id}/similar", responses=ERRORS)
async def similar(
    _caller: SearchCaller,
    product_id: str,
    filters: Annotated[SearchFilters, Query()],
    gateway: GatewayDep,
    include_variants: Annotated[
        bool, Query(description="The product's own variants may come back too.")
    ] = False,
    cheaper: Annotated[
        bool,
        Query(description="Only products priced below this one, in its currency."),
    ] = False,
) -> SearchOut:
    """More like this: the products nearest a catalog product, by all its photos (never
    itself, nor its own variants unless include_variants; with cheaper, only ones priced
    below it)."""
    query = ProductQuery(
        product_id=product_id,
        options=filters.options(),
        include_variants=include_variants,
        cheaper=cheaper,
    )
    return SearchOut.of(await gateway.backend.by_product(query), product_id)
