"""Builders for tests of the search cache around Redis trouble: stores, guards, queries."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from qdrant_client import QdrantClient

from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.search_env import Vrs
from vrs.redis_access.connection import redis_client
from vrs.redis_access.guard import RedisGuard
from vrs.settings import RedisSettings, StoreSettings
from vrs.store.base import VectorStore
from vrs.store.qdrant_server_store import QdrantServerStore
from vrs.v1 import common_pb2, embedder_pb2, search_pb2


def memory_store(tmp_path: Path, embedder: ImageEmbedder) -> VectorStore:
    """A real qdrant-client ':memory:' store: one engine is enough when the cache is the point."""
    settings = StoreSettings(data_dir=tmp_path / "unused-edge", indexing_threshold_kb=10)
    return QdrantServerStore.open_for_writing(
        QdrantClient(":memory:"), settings, embedder.model_id, embedder.dimension
    )


def guard_for(url: str, retry_after_s: float = 0.1) -> RedisGuard:
    """A guard as a service builds it, with a short back-off so tests recover quickly."""
    settings = RedisSettings(url=url, retry_after_s=retry_after_s, timeout_ms=500)
    return RedisGuard(redis_client(settings), settings)


async def first_answer(read: Callable[[], Awaitable[int | None]], within_s: float = 10.0) -> int:
    """The first value read returns that is not None (Redis answering again), within a bound."""
    deadline = time.monotonic() + within_s
    while (value := await read()) is None:
        assert time.monotonic() < deadline, f"no answer within {within_s} s"
        await asyncio.sleep(0.05)
    return value


def image_query(data: bytes, k: int = 5, **flt: Any) -> search_pb2.SearchByImageRequest:
    return search_pb2.SearchByImageRequest(
        image=common_pb2.ImageSource(data=data), k=k, filter=search_pb2.SearchFilter(**flt)
    )


async def upsert(
    vrs: Vrs, product_id: str, category: str, data: bytes, price: float = 10.0
) -> None:
    """Upsert one product through the embedder's gRPC API; it must land."""
    response = await vrs.embedder.UpsertProducts(
        embedder_pb2.UpsertProductsRequest(
            items=[
                embedder_pb2.ProductUpsert(
                    product=common_pb2.ProductAttributes(
                        product_id=product_id, category=category, price=price, title=product_id
                    ),
                    image=common_pb2.ImageSource(data=data),
                )
            ]
        ),
        timeout=30,
    )
    assert [r.outcome for r in response.results] == [embedder_pb2.UPSERT_OUTCOME_UPSERTED]
