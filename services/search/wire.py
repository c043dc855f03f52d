"""The search results' protobuf form at the gRPC edge, and the cache encoding made of it."""

from __future__ import annotations

from services.search.results import Match, SearchResult
from vrs.rpc.convert import (
    product_from_proto,
    stored_product_to_proto,
    used_region_from_proto,
    used_region_to_proto,
    variant_from_proto,
    variant_to_proto,
)
from vrs.v1 import search_pb2


def response(result: SearchResult) -> search_pb2.SearchResponse:
    return search_pb2.SearchResponse(
        matches=[
            search_pb2.Match(
                product_id=m.product.product_id,
                distance=m.distance,
                product=stored_product_to_proto(m.product),
                photo_index=m.photo_index,
                variants=[variant_to_proto(v) for v in m.variants],
            )
            for m in result.matches
        ],
        model_id=result.model_id,
        from_cache=result.from_cache,
        region=None if result.region is None else used_region_to_proto(result.region),
    )


def result(message: search_pb2.SearchResponse) -> SearchResult:
    return SearchResult(
        matches=tuple(
            Match(
                product_from_proto(m.product),
                m.distance,
                m.photo_index,
                tuple(variant_from_proto(v) for v in m.variants),
            )
            for m in message.matches
        ),
        model_id=message.model_id,
        from_cache=message.from_cache,
        region=used_region_from_proto(message.region),
    )


class ProtoResultCodec:
    """Results cached as the serialized SearchResponse a hit sends: encoded once when stored,
    sent as is by the servicer (decoded only for other callers, e.g. the web gateway)."""

    tag = b"pb1"

    def encode(self, result: SearchResult) -> bytes:
        return response(result).SerializeToString()

    def decode(self, payload: bytes) -> SearchResult:
        return result(search_pb2.SearchResponse.FromString(payload))
