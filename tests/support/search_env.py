"""A running vrs for search tests: embedder + search in one server (or split over gRPC)."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import grpc

from services.composition import RunningProcess, create_server
from tests.support.server_settings import settings_for
from vrs.store.async_store import AsyncStore
from vrs.store.base import VectorStore
from vrs.v1 import embedder_pb2_grpc, search_pb2_grpc

if TYPE_CHECKING:
    from services.embedder.embedding.embedder import ImageEmbedder
    from vrs.v1.embedder_pb2_grpc import EmbedderServiceAsyncStub
    from vrs.v1.search_pb2_grpc import SearchServiceAsyncStub

T = TypeVar("T")


class CountingStore(AsyncStore):
    """The real async store, counting calls per store method name (calls["search"])."""

    def __init__(self, store: VectorStore, timeout_s: float = 10.0) -> None:
        super().__init__(store, timeout_s)
        self.calls: Counter[str] = Counter()

    async def _run(self, operation: str, call: Callable[[], T], timeout_s: float | None) -> T:
        self.calls[operation] += 1
        return await super()._run(operation, call, timeout_s)


@dataclass
class Vrs:
    server: RunningProcess
    channel: grpc.aio.Channel
    search: SearchServiceAsyncStub
    embedder: EmbedderServiceAsyncStub
    store: CountingStore


class VrsStarter(Protocol):
    """Starts a vrs serving `store` with these settings sections (the `start_vrs` fixture)."""

    async def __call__(self, vector_store: VectorStore, /, **sections: dict[str, Any]) -> Vrs: ...


@asynccontextmanager
async def running_vrs(
    tmp_path: Path,
    embedder: ImageEmbedder,
    vector_store: VectorStore,
    /,
    **sections: dict[str, Any],
) -> AsyncIterator[Vrs]:
    counting = CountingStore(vector_store)
    server, port = await create_server(
        settings_for(tmp_path, **sections),
        image_embedder=embedder,
        fetcher=embedder.fetcher,  # the test built it with the embedder: the process's one
        store=counting,
    )
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield Vrs(
            server,
            channel,
            search_pb2_grpc.SearchServiceStub(channel),
            embedder_pb2_grpc.EmbedderServiceStub(channel),
            counting,
        )
    finally:
        await channel.close(None)
        await server.stop(1)
