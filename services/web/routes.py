"""The API's routes: HTTP in, domain calls through the backend, JSON out."""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from services.search.results import ImageQuery, ProductQuery, SearchOptions
from services.web.auth import HttpAuth
from services.web.backend import SearchBackend
from services.web.errors import domain_error_response
from services.web.image_types import content_type
from services.web.models import (
    CatalogOut,
    ErrorOut,
    ProductOut,
    SearchImageIn,
    SearchOut,
    StatusOut,
)
from vrs.errors import InvalidImage, InvalidInput, NotFound, VrsError
from vrs.images.source import ImageFetcher, ImageInput
from vrs.store.filters import ProductFilter

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text}
    for status, text in (
        (400, "Invalid input (the message names the problem)"),
        (401, "Missing or unknown bearer token (auth on)"),
        (403, "The caller lacks the role"),
        (404, "Unknown product"),
        (409, "Model mismatch between the embedder and the catalog"),
        (413, "Request body above VRS_WEB_MAX_UPLOAD_BYTES"),
        (429, "The embedder's queues are full: retry later"),
        (503, "The search service, the embedder or Qdrant is unavailable"),
    )
}
_SEARCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["image"],
                    "properties": {
                        "image": {"type": "string", "format": "binary"},
                        "k": {"type": "integer"},
                        "min_price": {"type": "number"},
                        "max_price": {"type": "number"},
                        "category": {"type": "array", "items": {"type": "string"}},
                        "brand": {"type": "array", "items": {"type": "string"}},
                        "in_stock": {"type": "boolean"},
                        "max_distance": {"type": "number"},
                    },
                }
            },
            "application/json": {
                "schema": {"$ref": "#/components/schemas/SearchImageIn"},
            },
        },
    }
}
IMAGE_CACHE_CONTROL = "max-age=3600"


@dataclass(frozen=True)
class Gateway:
    """What the routes use: the backend, the image fetcher and the callers' check."""

    backend: SearchBackend
    fetcher: ImageFetcher
    auth: HttpAuth


def api_router(gateway: Gateway) -> APIRouter:
    router = APIRouter()
    backend, auth = gateway.backend, gateway.auth

    @router.get("/healthz", response_model=StatusOut, tags=["health"])
    async def healthz() -> StatusOut:
        """The process is up."""
        return StatusOut(status="ok")

    @router.get("/readyz", response_model=StatusOut, responses={503: _ERRORS[503]}, tags=["health"])
    async def readyz() -> Any:
        """The services behind the gateway answer (and the store is reachable)."""
        try:
            await backend.check_ready()
        except VrsError as exc:
            return domain_error_response(exc)
        return StatusOut(status="ready")

    @router.post(
        "/v1/search/image",
        response_model=SearchOut,
        responses=_ERRORS,
        openapi_extra=_SEARCH_BODY,
        tags=["search"],
    )
    async def search_image(request: Request) -> SearchOut:
        """Products that look like a photo: multipart upload (`image` file) or JSON with
        base64 data or a URI, within a price range, categories, brands, stock, distance."""
        await auth.require(request, "search")
        query = await _image_query(request)
        return SearchOut.of(await backend.by_image(query))

    @router.get(
        "/v1/products/{product_id}/similar",
        response_model=SearchOut,
        responses=_ERRORS,
        tags=["search"],
    )
    async def similar(
        request: Request,
        product_id: str,
        k: int | None = None,
        min_price: float | None = None,
        max_price: float | None = None,
        category: Annotated[list[str] | None, Query()] = None,
        brand: Annotated[list[str] | None, Query()] = None,
        in_stock: bool = False,
        max_distance: float | None = None,
    ) -> SearchOut:
        """More like this: the products nearest a catalog product (never itself)."""
        await auth.require(request, "search")
        options = _options(
            k, min_price, max_price, category or [], brand or [], in_stock, max_distance
        )
        result = await backend.by_product(ProductQuery(product_id=product_id, options=options))
        return SearchOut.of(result, product_id)

    @router.get(
        "/v1/products/{product_id}",
        response_model=ProductOut,
        responses=_ERRORS,
        tags=["catalog"],
    )
    async def product(request: Request, product_id: str) -> ProductOut:
        """A catalog product's attributes."""
        await auth.require(request, "search")
        return ProductOut.of(await backend.product(product_id))

    @router.get(
        "/v1/products/{product_id}/image",
        responses={
            200: {"content": {"image/*": {}}, "description": "The product's photo"},
            **_ERRORS,
        },
        response_class=Response,
        tags=["catalog"],
    )
    async def product_image(request: Request, product_id: str) -> Response:
        """The product's photo, fetched under the same file-root and host allow-list rules as
        the embedder (never an open proxy)."""
        await auth.require(request, "search")
        found = await backend.product(product_id)
        if not found.image_uri:
            raise NotFound(f"product {found.product_id!r} has no image")
        try:
            data = await gateway.fetcher.load(ImageInput(uri=found.image_uri))
        except InvalidInput as exc:
            # A URI outside the root or the allowed hosts, a missing file: the caller asked
            # for a product's photo, and this product has none the gateway may serve.
            raise NotFound(
                f"the image of product {found.product_id!r} is not served: {exc}"
            ) from None
        etag = f'"{hashlib.sha256(data).hexdigest()}"'
        # Behind auth, shared caches must not keep what only callers may see.
        scope = "private" if auth.enabled else "public"
        headers = {
            "ETag": etag,
            "Cache-Control": f"{scope}, {IMAGE_CACHE_CONTROL}",
            "X-Content-Type-Options": "nosniff",
        }
        if etag in _etags(request.headers.get("if-none-match", "")):
            return Response(status_code=304, headers=headers)
        return Response(data, media_type=content_type(data), headers=headers)

    @router.get("/v1/catalog", response_model=CatalogOut, responses=_ERRORS, tags=["catalog"])
    async def catalog(request: Request) -> CatalogOut:
        """The catalog's size and model id, and the categories and brands to filter by."""
        await auth.require(request, "search")
        return CatalogOut.of(await backend.catalog())

    return router


async def _image_query(request: Request) -> ImageQuery:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        async with request.form(max_files=1, max_fields=64) as form:
            return await _form_query(form)
    if kind in ("application/json", ""):
        return _json_query(await request.body())
    raise InvalidInput(
        f"content type {kind!r} is not accepted: send multipart/form-data (an `image` file) "
        "or application/json"
    )


async def _form_query(form: FormData) -> ImageQuery:
    upload = form.get("image")
    if not isinstance(upload, UploadFile):
        raise InvalidImage("image is missing: send the photo as the multipart file field `image`")
    data = await upload.read()
    fields = {name: value for name, value in form.multi_items() if isinstance(value, str)}
    options = _options(
        _parse(fields.get("k"), int, "k"),
        _parse(fields.get("min_price"), float, "min_price"),
        _parse(fields.get("max_price"), float, "max_price"),
        [v for n, v in form.multi_items() if n == "category" and isinstance(v, str)],
        [v for n, v in form.multi_items() if n == "brand" and isinstance(v, str)],
        _parse_bool(fields.get("in_stock")),
        _parse(fields.get("max_distance"), float, "max_distance"),
    )
    return ImageQuery(image=ImageInput(data=data), options=options)


def _json_query(body: bytes) -> ImageQuery:
    try:
        parsed = SearchImageIn.model_validate_json(body or b"{}")
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()[:5]
        ]
        raise InvalidInput("; ".join(problems)) from None
    image = parsed.image
    if (image.data is None) == (image.uri is None):
        raise InvalidImage("image needs exactly one of data (base64) or uri")
    if image.data is not None:
        try:
            source = ImageInput(data=base64.b64decode(image.data, validate=True))
        except (binascii.Error, ValueError):
            raise InvalidImage("image.data is not valid base64") from None
    else:
        source = ImageInput(uri=image.uri)
    options = _options(
        parsed.k,
        parsed.min_price,
        parsed.max_price,
        parsed.categories,
        parsed.brands,
        parsed.in_stock,
        parsed.max_distance,
    )
    return ImageQuery(image=source, options=options)


def _options(
    k: int | None,
    min_price: float | None,
    max_price: float | None,
    categories: list[str],
    brands: list[str],
    in_stock: bool,
    max_distance: float | None,
) -> SearchOptions:
    return SearchOptions(
        k=k,
        filter=ProductFilter(
            min_price=min_price,
            max_price=max_price,
            categories=tuple(categories),
            brands=tuple(brands),
            in_stock_only=in_stock,
        ),
        max_distance=max_distance,
    )


def _parse(text: str | None, kind: type[int] | type[float], name: str) -> Any:
    if text is None or not text.strip():
        return None
    try:
        return kind(text.strip())
    except ValueError:
        expected = "an integer" if kind is int else "a number"
        raise InvalidInput(f"{name}: {text[:40]!r} is not {expected}") from None


def _parse_bool(text: str | None) -> bool:
    if text is None or not text.strip():
        return False
    value = text.strip().lower()
    if value in ("true", "1", "on", "yes"):
        return True
    if value in ("false", "0", "off", "no"):
        return False
    raise InvalidInput(f"in_stock: {text[:40]!r} is not true or false")


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
