"""A real embedder with one injected bug, to check that a bug in one batch item stays there."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from qdrant_client import QdrantClient

from services.embedder.embedding.embedder import QueryVector
from services.embedder.runtimes.engine import InferenceEngine
from tests.support.factories import FetcherOwningEmbedder
from tests.support.search_env import Vrs, running_vrs
from vrs.catalog.vectors import Vector
from vrs.errors import Overloaded
from vrs.images.region import Region
from vrs.images.source import ImageFetcher
from vrs.settings import ImageSettings, ModelSettings, StoreSettings
from vrs.store.qdrant_server_store import QdrantServerStore

# Bytes that make the embedder fail the way a bug would; the text must never reach a caller.
BUG_TRIGGER = b"trigger the injected bug"
BUG_SECRET = "hunter2-in-a-traceback"


class BuggyEmbedder(FetcherOwningEmbedder):
    """The real embedder, except that BUG_TRIGGER raises an unexpected RuntimeError (for
    catalog photos and query photos alike)."""

    async def embed(self, data: bytes, *, catalog: bool = True) -> Vector:
        if data == BUG_TRIGGER:
            raise RuntimeError(f"injected bug ({BUG_SECRET})")
        return await super().embed(data, catalog=catalog)

    async def embed_query(self, data: bytes, region: Region | None = None) -> QueryVector:
        if data == BUG_TRIGGER:
            raise RuntimeError(f"injected bug ({BUG_SECRET})")
        return await super().embed_query(data, region)


def buggy_embedder(engine: InferenceEngine, images: ImageSettings | None = None) -> BuggyEmbedder:
    images = images or ImageSettings()
    return BuggyEmbedder(engine, ModelSettings(), images, ImageFetcher(images))


@asynccontextmanager
async def running_buggy_vrs(
    tmp_path: Path, engine: InferenceEngine, **sections: dict[str, Any]
) -> AsyncIterator[Vrs]:
    """Embedder + search over real gRPC, on a qdrant-client ':memory:' store."""
    embedder = buggy_embedder(engine, ImageSettings.model_validate(sections.get("images", {})))
    store = QdrantServerStore.open_for_writing(
        QdrantClient(":memory:"), StoreSettings(), embedder.model_id, embedder.dimension
    )
    try:
        async with running_vrs(tmp_path, embedder, store, **sections) as vrs:
            yield vrs
    finally:
        store.close()
        await embedder.close()


class BusyEmbedder(FetcherOwningEmbedder):
    """The real embedder, answering Overloaded (a full queue) to its first `busy_calls` images."""

    def __init__(self, *args: Any, busy_calls: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.busy_calls = busy_calls

    async def embed(self, data: bytes, *, catalog: bool = True) -> Vector:
        if self.busy_calls > 0:
            self.busy_calls -= 1
            raise Overloaded("embedder queue is full (injected); retry later")
        return await super().embed(data, catalog=catalog)


def busy_embedder(engine: InferenceEngine, busy_calls: int) -> BusyEmbedder:
    images = ImageSettings()
    return BusyEmbedder(
        engine, ModelSettings(), images, ImageFetcher(images), busy_calls=busy_calls
    )
