"""Without VRS_OBS_METRICS_PORT a process serves no /metrics: nothing but gRPC listens."""

from __future__ import annotations

from pathlib import Path

from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.cache_env import memory_store
from tests.support.metrics_scrape import METRICS_ON, listening_tcp_ports
from tests.support.search_env import running_vrs


async def test_without_a_metrics_port_only_grpc_listens(
    tmp_path: Path, effnet: ImageEmbedder
) -> None:
    store = memory_store(tmp_path, effnet)
    try:
        before = listening_tcp_ports()
        async with running_vrs(tmp_path, effnet, store) as vrs:
            opened = listening_tcp_ports() - before
            assert vrs.server.metrics_port is None
            assert opened == {vrs.server.port}
    finally:
        store.close()


async def test_with_a_metrics_port_the_endpoint_listens_until_the_server_stops(
    tmp_path: Path, effnet: ImageEmbedder
) -> None:
    store = memory_store(tmp_path, effnet)
    try:
        before = listening_tcp_ports()
        async with running_vrs(tmp_path, effnet, store, obs=METRICS_ON) as vrs:
            opened = listening_tcp_ports() - before
            assert opened == {vrs.server.port, vrs.server.metrics_port}
        assert listening_tcp_ports() - before == set(), "the endpoint closed with the server"
    finally:
        store.close()
