"""An embedder replica's catalog-event pipeline (writer, applier, consumers) on whichever real
store `store_factory` opens, with consumers of any subclass and an on-applied hook."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from services.embedder.catalog.writer import CatalogWriter
from services.embedder.embedding.embedder import ImageEmbedder
from services.embedder.events.applier import ChangeApplier
from services.embedder.events.consumer import EventsConsumer
from tests.support.events_pipeline import events_settings
from vrs.redis_access.connection import redis_client
from vrs.redis_access.generation import CatalogGeneration
from vrs.redis_access.guard import RedisGuard
from vrs.settings import RedisSettings
from vrs.store.async_store import AsyncStore
from vrs.store.base import VectorStore


@dataclass
class Pipeline:
    """What an embedder replica runs: writer, applier, consumer (built per consumer)."""

    store: VectorStore
    async_store: AsyncStore
    writer: CatalogWriter
    redis_url: str
    consumers: list[EventsConsumer] = field(default_factory=list)

    async def consumer(
        self,
        name: str,
        cls: type[EventsConsumer] = EventsConsumer,
        on_applied: Callable[[str], None] | None = None,
        **settings: Any,
    ) -> EventsConsumer:
        client = redis_client(RedisSettings(url=self.redis_url), timeout_s=5)
        applier = ChangeApplier(self.writer, self.async_store, client, "test", 3600, 5000)
        consumer = cls(client, applier, events_settings(**settings), name, "test", on_applied)
        self.consumers.append(consumer)
        await consumer.start()
        return consumer


@asynccontextmanager
async def replica_pipeline(
    embedder: ImageEmbedder, store: VectorStore, redis_url: str
) -> AsyncIterator[Pipeline]:
    """The pipeline over `store`; stops its consumers on exit (the store is the caller's)."""
    async_store = AsyncStore(store, 10.0)
    guard = RedisGuard(redis_client(RedisSettings(url=redis_url)), RedisSettings())
    generation = CatalogGeneration(guard, "test")
    writer = CatalogWriter(embedder, async_store, generation, embedder.fetcher)
    pipe = Pipeline(store, async_store, writer, redis_url)
    try:
        yield pipe
    finally:
        for consumer in pipe.consumers:
            await consumer.stop()
        await guard.close()
