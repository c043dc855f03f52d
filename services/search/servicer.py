"""SearchService over gRPC: protobuf in, domain calls, protobuf out."""

from __future__ import annotations

from services.search.results import ImageQuery, ProductQuery, SearchOptions, SearchResult
from services.search.searcher import Query, Searcher
from vrs.errors import InvalidInput, VrsError
from vrs.grpc_errors import item_error
from vrs.grpc_server import Context
from vrs.item_failure import as_item_error
from vrs.proto_convert import image_from_proto, stored_product_to_proto
from vrs.store.async_store import AsyncStore
from vrs.store.filters import ProductFilter
from vrs.v1 import search_pb2, search_pb2_grpc


class SearchServicer(search_pb2_grpc.SearchServiceServicer):
    def __init__(self, searcher: Searcher, store: AsyncStore) -> None:
        self._searcher = searcher
        self._store = store

    async def SearchByImage(
        self, request: search_pb2.SearchByImageRequest, context: Context
    ) -> search_pb2.SearchResponse:
        return _response(await self._searcher.by_image(_image_query(request)))

    async def SearchByProduct(
        self, request: search_pb2.SearchByProductRequest, context: Context
    ) -> search_pb2.SearchResponse:
        return _response(await self._searcher.by_product(_product_query(request)))

    async def BatchSearch(
        self, request: search_pb2.BatchSearchRequest, context: Context
    ) -> search_pb2.BatchSearchResponse:
        queries = [_batch_query(i, query) for i, query in enumerate(request.queries)]
        response = search_pb2.BatchSearchResponse()
        for outcome in await self._searcher.batch(queries):
            if isinstance(outcome, SearchResult):
                response.results.add(response=_response(outcome))
            else:
                response.results.add(error=item_error(outcome))
        return response

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


def _options(
    k: int | None,
    flt: search_pb2.SearchFilter,
    max_distance: float | None,
    exact: bool | None = None,
) -> SearchOptions:
    return SearchOptions(
        exact=exact,
        k=k,
        filter=ProductFilter(
            min_price=flt.min_price if flt.HasField("min_price") else None,
            max_price=flt.max_price if flt.HasField("max_price") else None,
            categories=tuple(flt.categories),
            brands=tuple(flt.brands),
            in_stock_only=flt.in_stock_only,
        ),
        max_distance=max_distance,
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
        ),
        model_id=request.model_id.strip(),
    )


def _product_query(request: search_pb2.SearchByProductRequest) -> ProductQuery:
    return ProductQuery(
        product_id=request.product_id,
        options=_options(
            request.k if request.HasField("k") else None,
            request.filter,
            request.max_distance if request.HasField("max_distance") else None,
            request.exact if request.HasField("exact") else None,
        ),
        model_id=request.model_id.strip(),
    )


def _response(result: SearchResult) -> search_pb2.SearchResponse:
    return search_pb2.SearchResponse(
        matches=[
            search_pb2.Match(
                product_id=m.product.product_id,
                distance=m.distance,
                product=stored_product_to_proto(m.product),
            )
            for m in result.matches
        ],
        model_id=result.model_id,
        from_cache=result.from_cache,
    )
