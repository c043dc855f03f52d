"""The gateway's backend for `vrs serve --service web`: the search and embedder services over
gRPC (VRS_CLIENT_* TLS and token). Protobuf stays here, at the edge."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.search.results import ImageQuery, ProductQuery, SearchOptions, SearchResult
from services.search.wire import result
from services.web.backend import CatalogProduct, CatalogSummary
from vrs.errors import InvalidInput, NotFound, Unavailable, VrsError
from vrs.rpc.client import open_channel
from vrs.rpc.convert import (
    image_to_proto,
    photos_from_proto,
    product_from_proto,
    region_to_proto,
)
from vrs.rpc.status import error_from_status
from vrs.security.redact import redact_text
from vrs.settings import ClientSettings
from vrs.store.query import Collapse
from vrs.v1 import embedder_pb2, embedder_pb2_grpc, search_pb2, search_pb2_grpc

if TYPE_CHECKING:
    from vrs.v1.embedder_pb2_grpc import EmbedderServiceAsyncStub
    from vrs.v1.search_pb2_grpc import SearchServiceAsyncStub

T = TypeVar("T")

SEARCH = "search service"
EMBEDDER = "embedder service"
_UINT32_MAX = 2**32 - 1
_COLLAPSES = {
    Collapse.PRODUCT: search_pb2.COLLAPSE_PRODUCT,
    Collapse.GROUP: search_pb2.COLLAPSE_GROUP,
}
# The gateway's own credentials refused: the dependency is unusable, not the caller's fault.
_REFUSED = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)


class GrpcBackend:
    """Calls remote search and embedder services; every call has the `timeout_s` deadline."""

    def __init__(
        self,
        search_address: str,
        embedder_address: str,
        client: ClientSettings,
        timeout_s: float,
        max_message_mb: int,
    ) -> None:
        size = max_message_mb * 1024 * 1024
        options = [
            ("grpc.max_receive_message_length", size),
            ("grpc.max_send_message_length", size),
        ]
        self._timeout_s = timeout_s
        self._search_channel = open_channel(search_address, client, aio=True, options=options)
        self._embedder_channel = open_channel(embedder_address, client, aio=True, options=options)
        self._search: SearchServiceAsyncStub = search_pb2_grpc.SearchServiceStub(
            self._search_channel
        )
        self._embedder: EmbedderServiceAsyncStub = embedder_pb2_grpc.EmbedderServiceStub(
            self._embedder_channel
        )

    async def by_image(self, query: ImageQuery) -> SearchResult:
        request = search_pb2.SearchByImageRequest(
            image=image_to_proto(query.image),
            region=None if query.region is None else region_to_proto(query.region),
        )
        _set_options(request, query.options)
        return result(await self._call(SEARCH, self._search.SearchByImage(request, **self._kw())))

    async def by_product(self, query: ProductQuery) -> SearchResult:
        request = search_pb2.SearchByProductRequest(
            product_id=query.product_id,
            include_variants=query.include_variants,
            cheaper=query.cheaper,
        )
        _set_options(request, query.options)
        response = await self._call(SEARCH, self._search.SearchByProduct(request, **self._kw()))
        return result(response)

    async def product(self, product_id: str) -> CatalogProduct:
        request = embedder_pb2.GetProductsRequest(product_ids=[product_id])
        response = await self._call(EMBEDDER, self._embedder.GetProducts(request, **self._kw()))
        if response.invalid:
            raise InvalidInput(response.invalid[0].message)
        if not response.products:
            raise NotFound(f"product {product_id!r} is not in the catalog")
        product = product_from_proto(response.products[0])
        # An embedder of before several photos sends none: the product's own is its only one.
        photos = photos_from_proto(response.photos[0]) if response.photos else [product.image_uri]
        return CatalogProduct(product, tuple(photos))

    async def catalog(self) -> CatalogSummary:
        request = search_pb2.GetSearchStatsRequest()
        stats = await self._call(SEARCH, self._search.GetStats(request, **self._kw()))
        # No RPC lists categories, brands or currencies: the page then offers no choices for
        # them.
        return CatalogSummary(stats.points, stats.model_id)

    async def check_ready(self) -> None:
        for name, channel in ((SEARCH, self._search_channel), (EMBEDDER, self._embedder_channel)):
            stub = health_pb2_grpc.HealthStub(channel)
            answer = await self._call(
                name, stub.Check(health_pb2.HealthCheckRequest(), timeout=self._timeout_s)
            )
            if answer.status != health_pb2.HealthCheckResponse.SERVING:
                raise Unavailable(name, "not serving")

    async def close(self) -> None:
        await self._search_channel.close(None)
        await self._embedder_channel.close(None)

    def _kw(self) -> dict[str, Any]:
        return {"timeout": self._timeout_s}

    async def _call(self, dependency: str, call: Awaitable[T]) -> T:
        try:
            return await call
        except grpc.aio.AioRpcError as exc:
            raise _domain_error(exc, dependency) from None


def _domain_error(exc: grpc.aio.AioRpcError, dependency: str) -> VrsError:
    code = exc.code()
    message = redact_text(exc.details() or code.name)
    if code in _REFUSED:
        return Unavailable(dependency, f"it refused the gateway's credentials ({message})")
    return error_from_status(code, message, dependency)


def _set_options(
    request: search_pb2.SearchByImageRequest | search_pb2.SearchByProductRequest,
    options: SearchOptions,
) -> None:
    if options.k is not None:
        if not 1 <= options.k <= _UINT32_MAX:
            raise InvalidInput(f"k must be at least 1, got {options.k}")
        request.k = options.k
    if options.max_distance is not None:
        request.max_distance = options.max_distance
    flt = options.filter
    if flt.min_price is not None:
        request.filter.min_price = flt.min_price
    if flt.max_price is not None:
        request.filter.max_price = flt.max_price
    request.filter.categories.extend(flt.categories)
    request.filter.brands.extend(flt.brands)
    request.filter.in_stock_only = flt.in_stock_only
    request.filter.currency = flt.currency
    request.collapse = _COLLAPSES[options.collapse]
    request.over_budget = options.over_budget
