"""A metrics port that cannot be bound refuses the start, naming the setting, and leaves
nothing listening behind it."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.cache_env import memory_store
from tests.support.metrics_scrape import listening_tcp_ports
from tests.support.search_env import running_vrs
from vrs.errors import ConfigurationError


async def test_a_metrics_port_in_use_refuses_the_start(
    tmp_path: Path, effnet: ImageEmbedder
) -> None:
    store = memory_store(tmp_path, effnet)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        before = listening_tcp_ports()
        try:
            with pytest.raises(ConfigurationError, match=f"127.0.0.1:{port}.*VRS_OBS_METRICS_PORT"):
                async with running_vrs(tmp_path, effnet, store, obs={"metrics_port": port}):
                    pass
        finally:
            store.close()
        assert listening_tcp_ports() == before
