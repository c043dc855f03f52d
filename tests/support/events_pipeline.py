"""What an embedder replica runs for catalog events (writer, applier, consumers), on a real
Redis and a real Qdrant Edge store, plus helpers to publish raw entries and wait on them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aioredis

from services.embedder.catalog.items import UpsertItem
from services.embedder.catalog.writer import CatalogWriter
from services.embedder.embedding.embedder import ImageEmbedder
from services.embedder.events.applier import ChangeApplier
from services.embedder.events.consumer import EventsConsumer
from tests.support.images import product_jpeg
from vrs.catalog.products import Product, StoredProduct
from vrs.images.source import ImageInput
from vrs.redis_access.connection import redis_client
from vrs.redis_access.generation import CatalogGeneration
from vrs.redis_access.guard import RedisGuard
from vrs.settings import EventsSettings, RedisSettings, StoreSettings
from vrs.store.async_store import AsyncStore
from vrs.store.qdrant_edge_store import QdrantEdgeStore

STREAM = "test:catalog-events"
DEAD = "test:catalog-events:dead"
GROUP = "embedders"
KEY_PREFIX = "test"
TOMBSTONE_TTL_S = 3600


def events_settings(**overrides: Any) -> EventsSettings:
    """Short timings, so retries, claims and dead letters happen within a test."""
    values = {
        "stream": STREAM,
        "dead_letter_stream": DEAD,
        "group": GROUP,
        "batch_size": 16,
        "block_ms": 100,
        "claim_idle_ms": 400,
        "max_attempts": 3,
        "retry_backoff_ms": 50,
        "lock_ttl_ms": 5000,
        **overrides,
    }
    return EventsSettings.model_validate(values)


@dataclass
class EventsPipeline:
    """Store, writer and the consumers started on it; closed by events_pipeline()."""

    store: QdrantEdgeStore
    async_store: AsyncStore
    writer: CatalogWriter
    redis_url: str
    consumers: list[EventsConsumer] = field(default_factory=list)
    clients: list[aioredis.Redis] = field(default_factory=list)

    def client(self, timeout_s: float = 5) -> aioredis.Redis:
        client = redis_client(RedisSettings(url=self.redis_url), timeout_s=timeout_s)
        self.clients.append(client)
        return client

    def applier(self, lock_ttl_ms: int = 5000, lock_wait_ms: int = 10_000) -> ChangeApplier:
        return ChangeApplier(
            self.writer,
            self.async_store,
            self.client(),
            KEY_PREFIX,
            TOMBSTONE_TTL_S,
            lock_ttl_ms,
            lock_wait_ms,
        )

    async def consumer(
        self, name: str, client_timeout_s: float = 5, **settings: Any
    ) -> EventsConsumer:
        """A started consumer; settings override events_settings()."""
        events = events_settings(**settings)
        applier = self.applier(events.lock_ttl_ms, events.lock_wait_ms)
        consumer = EventsConsumer(self.client(client_timeout_s), applier, events, name, KEY_PREFIX)
        self.consumers.append(consumer)
        await consumer.start()
        return consumer

    async def seed(self, product: Product, seed: int = 0) -> StoredProduct:
        """Put a product in the store directly (inline photo), as an earlier event would."""
        image = ImageInput(data=product_jpeg(product.category or "shirt", seed))
        [result] = await self.writer.upsert([UpsertItem(product, image=image)])
        assert result.error is None, result.error
        return self.store.get([product.product_id])[product.product_id]

    def stored(self, product_id: str) -> StoredProduct | None:
        return self.store.get([product_id]).get(product_id)


@asynccontextmanager
async def events_pipeline(
    embedder: ImageEmbedder, redis_url: str, data_dir: Path
) -> AsyncIterator[EventsPipeline]:
    store = QdrantEdgeStore.open(
        StoreSettings(data_dir=data_dir, indexing_threshold_kb=10),
        embedder.model_id,
        embedder.dimension,
    )
    async_store = AsyncStore(store, 10.0)
    guard = RedisGuard(redis_client(RedisSettings(url=redis_url)), RedisSettings())
    generation = CatalogGeneration(guard, KEY_PREFIX)
    writer = CatalogWriter(embedder, async_store, generation, embedder.fetcher)
    pipeline = EventsPipeline(store, async_store, writer, redis_url)
    try:
        yield pipeline
    finally:
        for consumer in pipeline.consumers:
            await consumer.stop()
        for client in pipeline.clients:
            await client.aclose()
        await guard.close()
        await async_store.close()


def sync_redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def publish_raw(client: redis.Redis, fields: dict[Any, Any]) -> str:
    """Append an entry as any producer could, valid or not; returns its id."""
    entry_id = client.xadd(STREAM, fields)
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


def dead_letters(client: redis.Redis) -> list[dict[bytes, bytes]]:
    entries: Any = client.xrange(DEAD)
    return [fields for _, fields in entries]


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], what: str, timeout_s: float = 10.0
) -> None:
    """Wait until check() holds (a liveness bound, not a speed assertion)."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = check()
        if answer if isinstance(answer, bool) else await answer:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s}s: {what}")
        await asyncio.sleep(0.05)


def group_settled(client: redis.Redis) -> bool:
    """Nothing pending and nothing unread in the group."""
    for group in client.xinfo_groups(STREAM):
        if group["name"].decode() == GROUP:
            return not group["pending"] and not group["lag"]
    return False
