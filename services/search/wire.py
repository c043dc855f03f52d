"""The search results' protobuf form at the gRPC edge, and the cache encoding made of it."""

from __future__ import annotations

from services.search.results import Match, SearchResult
from vrs.rpc.convert import (
    label_from_proto,
    label_to_proto,
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
        matches=[_match(m) for m in result.matches],
        over_budget=[_match(m) for m in result.over_budget],
        model_id=result.model_id,
        from_cache=result.from_cache,
        region=None if result.region is None else used_region_to_proto(result.region),
    )


def _match(match: Match) -> search_pb2.Match:
    message = search_pb2.Match(
        product_id=match.product.product_id,
        distance=match.distance,
        product=stored_product_to_proto(match.product),
        photo_index=match.photo_index,
        variants=[variant_to_proto(v) for v in match.variants],
    )
    if match.over_by is not None:
        message.over_by = match.over_by
    if match.label is not None:
        message.match = label_to_proto(match.label)
    return message


def _domain_match(message: search_pb2.Match) -> Match:
    return Match(
        product_from_proto(message.product),
        message.distance,
        message.photo_index,
        tuple(variant_from_proto(v) for v in message.variants),
        message.over_by if message.HasField("over_by") else None,
        label_from_proto(message.match),
    )


def result(message: search_pb2.SearchResponse) -> SearchResult:
    return SearchResult(
        matches=tuple(_domain_match(m) for m in message.matches),
        over_budget=tuple(_domain_match(m) for m in message.over_budget),
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
