"""Real gRPC servers on ephemeral loopback ports, for tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc

from services.composition import RunningProcess, create_server
from tests.support.server_settings import settings_for
from vrs.rpc.client import open_channel
from vrs.settings import ClientSettings
from vrs.store.async_store import AsyncStore
from vrs.store.base import VectorStore
from vrs.v1 import embedder_pb2_grpc

if TYPE_CHECKING:
    from services.embedder.embedding.embedder import ImageEmbedder
    from vrs.v1.embedder_pb2_grpc import EmbedderServiceAsyncStub


@dataclass
class RunningEmbedder:
    server: RunningProcess
    port: int
    channel: grpc.aio.Channel
    stub: EmbedderServiceAsyncStub


@asynccontextmanager
async def embedder_server(
    tmp_path: Path,
    embedder: ImageEmbedder,
    store: VectorStore | None = None,
    client: ClientSettings | None = None,
    **sections: dict[str, Any],
) -> AsyncIterator[RunningEmbedder]:
    """An embedder server with `sections` over the test settings; its channel is made as
    `client` says (TLS, client certificate, token; default plaintext)."""
    facade = AsyncStore(store, 10.0) if store is not None else None
    server, port = await create_server(
        settings_for(tmp_path, **sections),
        "embedder",
        image_embedder=embedder,
        fetcher=embedder.fetcher,  # the test built it with the embedder: the process's one
        store=facade,
    )
    channel = open_channel(
        f"127.0.0.1:{port}", client or ClientSettings.model_construct(), aio=True
    )
    try:
        yield RunningEmbedder(server, port, channel, embedder_pb2_grpc.EmbedderServiceStub(channel))
    finally:
        await channel.close(None)
        await server.stop(1)
