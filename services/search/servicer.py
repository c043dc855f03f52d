"""SearchService over gRPC: protobuf in, domain calls, protobuf out.

A cache hit in this edge's encoding (services.search.wire.ProtoResultCodec) is already the
serialized response: it is returned as bytes, which the registered serializer passes through.
"""

from __future__ import annotations

import grpc

from services.search.results import Answer, EncodedResult, ImageQuery, ProductQuery, SearchOptions
from services.search.searcher import Query, Searcher
from services.search.wire import ProtoResultCodec, response
from vrs.errors import InvalidInput, VrsError
from vrs.item_failure import as_item_error
from vrs.rpc.convert import image_from_proto, region_from_proto
from vrs.rpc.handler_types import Context
from vrs.rpc.status import item_error
from vrs.store.async_store import AsyncStore
from vrs.store.filters import NO_FILTER, ProductFilter
from vrs.store.query import Collapse
from vrs.v1 import search_pb2, search_pb2_grpc

# A SearchResponse, or one already serialized (a cache hit).
Served = search_pb2.SearchResponse | bytes


class SearchServicer(search_pb2_grpc.SearchServiceServicer):
    """The SearchService RPCs: protobuf in, searcher calls, protobuf out."""

    def __init__(self, searcher: Searcher, store: AsyncStore) -> None:
        self._searcher = searcher
        self._store = store

    async def SearchByImage(  # type: ignore[override]
        self, request: search_pb2.SearchByImageRequest, context: Context
    ) -> Served:
        return _served(await self._searcher.answer(_image_query(request)))

    async def SearchByProduct(  # type: ignore[override]
        self, request: search_pb2.SearchByProductRequest, context: Context
    ) -> Served:
        return _served(await self._searcher.answer(_product_query(request)))

    async def BatchSearch(
        self, request: search_pb2.BatchSearchRequest, context: Context
    ) -> search_pb2.BatchSearchResponse:
        queries = [_batch_query(i, query) for i, query in enumerate(request.queries)]
        batch = search_pb2.BatchSearchResponse()
        for outcome in await self._searcher.batch(queries):
            if isinstance(outcome, VrsError):
                batch.results.add(error=item_error(outcome))
                continue
            served = _served(outcome)
            if isinstance(served, bytes):
                batch.results.add().response.MergeFromString(served)
            else:
                batch.results.add(response=served)
        return batch

    async def GetStats(
        self, request: search_pb2.GetSearchStatsRequest, context: Context
    ) -> search_pb2.SearchStats:
        info = await self._store.info()
        stats = search_pb2.SearchStats(
            collection=info.collection, model_id=info.model_id, points=info.points
        )
        cache = self._searcher.cache
        if cache is not None:
            total = cache.hits + cache.misses
            stats.cache.CopyFrom(
                search_pb2.CacheStats(
                    enabled=True,
                    hits=cache.hits,
                    misses=cache.misses,
                    errors=cache.errors,
                    hit_rate=cache.hits / total if total else 0.0,
                )
            )
        return stats


_COLLAPSES: dict[int, Collapse] = {
    search_pb2.COLLAPSE_PRODUCT: Collapse.PRODUCT,
    search_pb2.COLLAPSE_GROUP: Collapse.GROUP,
}


def _options(
    k: int | None,
    flt: search_pb2.SearchFilter,
    max_distance: float | None,
    exact: bool | None,
    collapse: int,
    over_budget: bool,
) -> SearchOptions:
    if collapse not in _COLLAPSES:
        raise InvalidInput(f"collapse {collapse} is not COLLAPSE_PRODUCT or COLLAPSE_GROUP")
    return SearchOptions(
        exact=exact,
        collapse=_COLLAPSES[collapse],
        k=k,
        filter=_filter(flt),
        max_distance=max_distance,
        over_budget=over_budget,
    )


def _filter(flt: search_pb2.SearchFilter) -> ProductFilter:
    if not flt.ByteSize():
        return NO_FILTER  # nothing set, as in most queries
    return ProductFilter(
        min_price=flt.min_price if flt.HasField("min_price") else None,
        max_price=flt.max_price if flt.HasField("max_price") else None,
        categories=tuple(flt.categories),
        brands=tuple(flt.brands),
        in_stock_only=flt.in_stock_only,
        currency=flt.currency,
    )


def _batch_query(index: int, query: search_pb2.SearchQuery) -> Query | VrsError:
    """The query, or the error that fails it alone."""
    try:
        kind = query.WhichOneof("query")
        if kind == "by_image":
            return _image_query(query.by_image)
        if kind == "by_product":
            return _product_query(query.by_product)
        return InvalidInput(f"query {index} of the batch is empty: set by_image or by_product")
    except Exception as exc:
        return as_item_error(exc, f"query {index} of the batch")


def _image_query(request: search_pb2.SearchByImageRequest) -> ImageQuery:
    return ImageQuery(
        image=image_from_proto(request.image),
        options=_options(
            request.k if request.HasField("k") else None,
            request.filter,
            request.max_distance if request.HasField("max_distance") else None,
            request.exact if request.HasField("exact") else None,
            request.collapse,
            not request.HasField("over_budget") or request.over_budget,
        ),
        model_id=request.model_id.strip(),
        region=region_from_proto(request.region) if request.HasField("region") else None,
    )


def _product_query(request: search_pb2.SearchByProductRequest) -> ProductQuery:
    return ProductQuery(
        product_id=request.product_id,
        options=_options(
            request.k if request.HasField("k") else None,
            request.filter,
            request.max_distance if request.HasField("max_distance") else None,
            request.exact if request.HasField("exact") else None,
            request.collapse,
            not request.HasField("over_budget") or request.over_budget,
        ),
        model_id=request.model_id.strip(),
        include_variants=request.include_variants,
        cheaper=request.cheaper,
    )


def _served(answer: Answer) -> Served:
    if isinstance(answer, EncodedResult):
        if isinstance(answer.codec, ProtoResultCodec):
            return answer.payload
        return response(answer.decoded())
    return response(answer)


def _serialized(message: Served) -> bytes:
    return message if isinstance(message, bytes) else message.SerializeToString()


def add_to_server(servicer: SearchServicer, server: grpc.aio.Server) -> None:
    """search_pb2_grpc.add_SearchServiceServicer_to_server, but SearchResponse methods may
    return bytes already serialized (cache hits), sent as they are."""
    messages = search_pb2
    handlers = {
        "SearchByImage": grpc.unary_unary_rpc_method_handler(
            servicer.SearchByImage,
            request_deserializer=messages.SearchByImageRequest.FromString,
            response_serializer=_serialized,
        ),
        "SearchByProduct": grpc.unary_unary_rpc_method_handler(
            servicer.SearchByProduct,
            request_deserializer=messages.SearchByProductRequest.FromString,
            response_serializer=_serialized,
        ),
        "BatchSearch": grpc.unary_unary_rpc_method_handler(
            servicer.BatchSearch,
            request_deserializer=messages.BatchSearchRequest.FromString,
            response_serializer=messages.BatchSearchResponse.SerializeToString,
        ),
        "GetStats": grpc.unary_unary_rpc_method_handler(
            servicer.GetStats,
            request_deserializer=messages.GetSearchStatsRequest.FromString,
            response_serializer=messages.SearchStats.SerializeToString,
        ),
    }
    name = messages.DESCRIPTOR.services_by_name["SearchService"].full_name
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(name, handlers),))
    # As the generated code does: grpc looks registered methods up without the generic scan
    # (the stubs predate the method).
    server.add_registered_method_handlers(name, handlers)  # type: ignore[attr-defined]
