"""The catalog: a product's attributes and photo, the catalog's size and filter values."""

from __future__ import annotations

import hashlib
import logging
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.web.dependencies import GatewayDep, SearchCaller
from services.web.image_types import image_type
from services.web.models import CatalogOut, CatalogProductOut
from services.web.openapi_docs import ERRORS
from vrs.errors import InvalidInput, NotFound
from vrs.images.source import ImageInput

IMAGE_CACHE_CONTROL = "max-age=3600"

log = logging.getLogger(__name__)

router = APIRouter(tags=["catalog"])


@router.get("/v1/products/{product_id}", responses=ERRORS)
async def product(_caller: SearchCaller, product_id: str, gateway: GatewayDep) -> CatalogProductOut:
    """A catalog product's attributes and the paths of all its photos."""
    return CatalogProductOut.of_stored(await gateway.backend.product(product_id))


@router.get(
    "/v1/products/{product_id}/image",
    responses={200: {"content": {"image/*": {}}, "description": "The product's photo"}, **ERRORS},
    response_class=Response,
)
async def product_image(
    _caller: SearchCaller,
    request: Request,
    product_id: str,
    gateway: GatewayDep,
    photo: Annotated[int, Query(ge=0, description="Which of its photos (0: the first).")] = 0,
) -> Response:
    """One of the product's photos, fetched under the same file-root and host allow-list
    rules as the embedder (never an open proxy)."""
    stored = await gateway.backend.product(product_id)
    found = stored.product
    if photo >= len(stored.photo_uris):
        raise NotFound(
            f"product {found.product_id!r} has {len(stored.photo_uris)} photos, no photo {photo}"
        )
    uri = stored.photo_uris[photo]
    unavailable = NotFound(f"product {found.product_id!r} has no photo the gateway serves")
    if not uri:
        raise unavailable
    try:
        data = await gateway.fetcher.load(ImageInput(uri=uri))
    except InvalidInput as exc:
        # A URI outside the root or the allowed hosts, a missing file: the why (which names
        # the server's image root) is the operator's, in the log; the caller learns only
        # that this product has no photo to show.
        log.info(
            "product photo not served", extra={"product_id": found.product_id, "why": str(exc)}
        )
        raise unavailable from None
    media_type = image_type(data)
    if media_type is None:
        log.info("product photo not served: not an image", extra={"product_id": found.product_id})
        raise unavailable
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
    return Response(data, media_type=media_type, headers=headers)


@router.get("/v1/catalog", responses=ERRORS)
async def catalog(_caller: SearchCaller, gateway: GatewayDep) -> CatalogOut:
    """The catalog's size and model id, and the categories, brands and currencies to filter
    by."""
    return CatalogOut.of(await gateway.backend.catalog())


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
