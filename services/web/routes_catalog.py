"""The catalog: a product's attributes and photo, the catalog's size and filter values."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.web.dependencies import GatewayDep, SearchCaller
from services.web.image_types import content_type
from services.web.models import CatalogOut, ProductOut
from services.web.openapi_docs import ERRORS
from vrs.errors import InvalidInput, NotFound
from vrs.images.source import ImageInput

IMAGE_CACHE_CONTROL = "max-age=3600"

router = APIRouter(tags=["catalog"])


@router.get("/v1/products/{product_id}", responses=ERRORS)
async def product(_caller: SearchCaller, product_id: str, gateway: GatewayDep) -> ProductOut:
    """A catalog product's attributes."""
    return ProductOut.of(await gateway.backend.product(product_id))


@router.get(
    "/v1/products/{product_id}/image",
    responses={200: {"content": {"image/*": {}}, "description": "The product's photo"}, **ERRORS},
    response_class=Response,
)
async def product_image(
    _caller: SearchCaller, request: Request, product_id: str, gateway: GatewayDep
) -> Response:
    """The product's photo, fetched under the same file-root and host allow-list rules as
    the embedder (never an open proxy)."""
    found = await gateway.backend.product(product_id)
    if not found.image_uri:
        raise NotFound(f"product {found.product_id!r} has no image")
    try:
        data = await gateway.fetcher.load(ImageInput(uri=found.image_uri))
    except InvalidInput as exc:
        # A URI outside the root or the allowed hosts, a missing file: the caller asked
        # for a product's photo, and this product has none the gateway may serve.
        raise NotFound(f"the image of product {found.product_id!r} is not served: {exc}") from None
    etag = f'"{hashlib.sha256(data).hexdigest()}"'
    # Behind auth, shared caches must not keep what only callers may see.
    scope = "private" if gateway.auth.enabled else "public"
    headers = {
        "ETag": etag,
        "Cache-Control": f"{scope}, {IMAGE_CACHE_CONTROL}",
        "X-Content-Type-Options": "nosniff",
    }
    if etag in _etags(request.headers.get("if-none-match", "")):
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=content_type(data), headers=headers)


@router.get("/v1/catalog", responses=ERRORS)
async def catalog(_caller: SearchCaller, gateway: GatewayDep) -> CatalogOut:
    """The catalog's size and model id, and the categories and brands to filter by."""
    return CatalogOut.of(await gateway.backend.catalog())


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
