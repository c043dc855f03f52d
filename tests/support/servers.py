"""Real gRPC servers on ephemeral loopback ports, for tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc

from services.embedder.embedding import ImageEmbedder
from services.embedder.server import create_server
from tests.support.factories import settings_for
from vrs.grpc_server import GrpcServer
from vrs.store.base import VectorStore
from vrs.store.runner import StoreRunner
from vrs.v1 import embedder_pb2_grpc

if TYPE_CHECKING:
    from vrs.v1.embedder_pb2_grpc import EmbedderServiceAsyncStub


@dataclass
class RunningEmbedder:
    server: GrpcServer
    port: int
    channel: grpc.aio.Channel
    stub: EmbedderServiceAsyncStub


@asynccontextmanager
async def embedder_server(
    tmp_path: Path,
    embedder: ImageEmbedder,
    store: VectorStore | None = None,
    **sections: dict[str, Any],
) -> AsyncIterator[RunningEmbedder]:
    runner = StoreRunner(store, 10.0) if store is not None else None
    server, port = await create_server(
        settings_for(tmp_path, **sections), embedder=embedder, store=runner
    )
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield RunningEmbedder(server, port, channel, embedder_pb2_grpc.EmbedderServiceStub(channel))
    finally:
        await channel.close(None)
        await server.stop(1)
