"""Assembling the embedder service: model, store, writer and servicer."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry

from services.embedder.catalog.writer import CatalogWriter
from services.embedder.embedding.embedder import ImageEmbedder
from services.embedder.events.applier import ChangeApplier
from services.embedder.events.consumer import EventsConsumer
from services.embedder.servicer import EmbedderServicer
from vrs.errors import ConfigurationError
from vrs.images.source import ImageFetcher
from vrs.lifecycle import Closer
from vrs.observability.metrics.registry import register
from vrs.redis_access.check import check_redis
from vrs.redis_access.connection import redis_client
from vrs.redis_access.generation import BumpRetrier, CatalogGeneration
from vrs.redis_access.guard import RedisGuard
from vrs.rpc.server import ServiceBinding
from vrs.settings import Settings
from vrs.store.async_store import AsyncStore
from vrs.store.factory import open_store_for_writing
from vrs.store.model_stores import ModelStores
from vrs.v1 import embedder_pb2, embedder_pb2_grpc

SERVICE_NAME = embedder_pb2.DESCRIPTOR.services_by_name["EmbedderService"].full_name


@dataclass
class EmbedderParts:
    """An embedder service ready to bind to a gRPC server, and what to close when it stops."""

    embedder: ImageEmbedder
    store: AsyncStore
    writer: CatalogWriter
    redis: RedisGuard | None
    # The process's one catalog generation (None without Redis): its search shares it.
    generation: CatalogGeneration | None
    binding: ServiceBinding
    # Collections of other models (imported vectors), shared with an in-process search.
    stores: ModelStores
    # What these parts opened themselves and must close; injected parts stay open.
    closers: list[Closer] = field(default_factory=list)


async def build_embedder(
    settings: Settings,
    fetcher: ImageFetcher,
    *,
    embedder: ImageEmbedder | None = None,
    store: AsyncStore | None = None,
    redis: RedisGuard | None = None,
    registry: CollectorRegistry | None = None,
) -> EmbedderParts:
    """The embedder service of a process: the model, the catalog writer over the store and,
    when enabled, the catalog events consumer.

    The process's image fetcher, and parts given here, belong to the caller: left open.
    """
    closers: list[Closer] = []
    if settings.events.enabled:
        # Before the model loads: a wrong Redis address or password is refused in seconds.
        await check_redis(settings.redis, "catalog events (VRS_EVENTS_ENABLED)")
    if embedder is None:
        embedder = ImageEmbedder.from_settings(settings.model, settings.images, fetcher)
        closers.append(embedder.close)
    if store is None:
        store = AsyncStore(
            open_store_for_writing(settings.store, embedder.model_id, embedder.dimension),
            settings.store.timeout_s,
        )
        closers.append(store.close)
    if redis is None and settings.redis.url:
        redis = RedisGuard(redis_client(settings.redis), settings.redis)
        closers.append(redis.close)
        if registry is not None:
            register(registry, redis.health.collectors())
    generation = None
    if redis is not None:
        generation = CatalogGeneration(redis, settings.redis.key_prefix)
        retrier = BumpRetrier(generation, redis)
        retrier.start()
        closers.append(retrier.stop)
    # Before anything can reach the model (events, then SERVING): no request pays for the
    # first pass's lazy initialisation, and a model that cannot run fails the start.
    await embedder.warm_up()
    if registry is not None:
        register(registry, embedder.metrics.collectors())
    stores = ModelStores(settings.store)
    closers.append(stores.close)
    writer = CatalogWriter(embedder, store, generation, fetcher, stores)
    events = (
        await _start_events(settings, writer, store, closers) if settings.events.enabled else None
    )
    if events is not None and registry is not None:
        registry.register(events.metrics_collector())
    servicer = EmbedderServicer(embedder, writer, store, events)
    binding = ServiceBinding(
        SERVICE_NAME,
        lambda server: embedder_pb2_grpc.add_EmbedderServiceServicer_to_server(servicer, server),
    )
    return EmbedderParts(embedder, store, writer, redis, generation, binding, stores, closers)


async def _start_events(
    settings: Settings, writer: CatalogWriter, store: AsyncStore, closers: list[Closer]
) -> EventsConsumer:
    if not settings.redis.url:
        raise ConfigurationError("VRS_EVENTS_ENABLED needs VRS_REDIS_URL (the events stream)")
    events = settings.events
    # Blocking stream reads need a socket timeout longer than the block itself.
    client = redis_client(
        settings.redis, events.block_ms / 1000 + settings.redis.timeout_ms / 1000 + 1
    )
    closers.append(client.aclose)
    applier = ChangeApplier(
        writer,
        store,
        client,
        settings.redis.key_prefix,
        events.tombstone_ttl_s,
        events.lock_ttl_ms,
        events.lock_wait_ms,
    )
    name = events.consumer or f"{socket.gethostname()}-{os.getpid()}"
    consumer = EventsConsumer(client, applier, events, name, settings.redis.key_prefix)
    await consumer.start()
    closers.append(consumer.stop)  # closers run in reverse: the consumer stops first
    return consumer
