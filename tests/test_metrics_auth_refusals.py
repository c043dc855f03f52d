"""Calls refused before any servicer runs (no token, no role) are counted with their status
code: the metrics interceptor is the outermost one."""

from __future__ import annotations

from pathlib import Path

import grpc

from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.auth_env import client_of, secured_vrs, status_of, write_tokens_file
from tests.support.cache_env import image_query
from tests.support.images import product_jpeg
from tests.support.metrics_scrape import METRICS_ON, delta, scrape
from vrs.v1 import search_pb2

SEARCH = "vrs.v1.SearchService"


async def test_refused_calls_are_counted_with_their_code(
    tmp_path: Path, effnet: ImageEmbedder
) -> None:
    tokens_file = tmp_path / "tokens"
    tokens = write_tokens_file(tokens_file, {"shop": ["search"]})
    async with secured_vrs(tmp_path, effnet, tokens_file, obs=METRICS_ON) as vrs:
        port = vrs.server.metrics_port
        assert port is not None
        before = await scrape(port)
        async with client_of(vrs.server.port, None) as anonymous:
            refused = await status_of(anonymous.search.SearchByImage(image_query(product_jpeg())))
        async with client_of(vrs.server.port, tokens["shop"]) as shop:
            denied = await status_of(shop.search.GetStats(search_pb2.GetSearchStatsRequest()))
        after = await scrape(port)

    assert refused.code() is grpc.StatusCode.UNAUTHENTICATED
    assert denied.code() is grpc.StatusCode.PERMISSION_DENIED
    requests = "vrs_grpc_server_requests_total"
    assert (
        delta(
            before, after, requests, service=SEARCH, method="SearchByImage", code="UNAUTHENTICATED"
        )
        == 1
    )
    assert (
        delta(before, after, requests, service=SEARCH, method="GetStats", code="PERMISSION_DENIED")
        == 1
    )
