"""A running vrs for search tests: embedder + search in one server (or split over gRPC)."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import grpc

from services.app import create_app_server
from services.embedder.embedding import ImageEmbedder
from tests.support.factories import settings_for
from vrs.grpc_server import GrpcServer
from vrs.store.base import VectorStore
from vrs.store.runner import StoreRunner
from vrs.v1 import embedder_pb2_grpc, search_pb2_grpc

if TYPE_CHECKING:
    from vrs.v1.embedder_pb2_grpc import EmbedderServiceAsyncStub
    from vrs.v1.search_pb2_grpc import SearchServiceAsyncStub

T = TypeVar("T")


class CountingStoreRunner(StoreRunner):
    """The real store runner, counting which store operations are called."""

    def __init__(self, store: VectorStore, timeout_s: float = 10.0) -> None:
        super().__init__(store, timeout_s)
        self.calls: Counter[str] = Counter()

    async def run(self, fn: Callable[..., T], *args: Any, timeout_s: float | None = -1.0) -> T:
        self.calls[getattr(fn, "__name__", "?")] += 1
        return await super().run(fn, *args, timeout_s=timeout_s)


@dataclass
class Vrs:
    server: GrpcServer
    channel: grpc.aio.Channel
    search: SearchServiceAsyncStub
    embedder: EmbedderServiceAsyncStub
    store: CountingStoreRunner


@asynccontextmanager
async def running_vrs(
    tmp_path: Path, embedder: ImageEmbedder, store: VectorStore, **sections: dict[str, Any]
) -> AsyncIterator[Vrs]:
    runner = CountingStoreRunner(store)
    server, port = await create_app_server(
        settings_for(tmp_path, **sections), image_embedder=embedder, store=runner
    )
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield Vrs(
            server,
            channel,
            search_pb2_grpc.SearchServiceStub(channel),
            embedder_pb2_grpc.EmbedderServiceStub(channel),
            runner,
        )
    finally:
        await channel.close(None)
        await server.stop(1)
