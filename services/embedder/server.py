"""Assembling the embedder service: model, store, writer and servicer."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.embedder.catalog_writer import CatalogWriter
from services.embedder.embedding import ImageEmbedder
from services.embedder.servicer import EmbedderServicer
from vrs.generation import CatalogGeneration
from vrs.grpc_server import Closer, GrpcServer, ServiceBinding, create_grpc_server
from vrs.redis_guard import RedisGuard, redis_client
from vrs.settings import Settings
from vrs.store.factory import open_store_for_writing
from vrs.store.runner import StoreRunner
from vrs.v1 import embedder_pb2, embedder_pb2_grpc

SERVICE_NAME = embedder_pb2.DESCRIPTOR.services_by_name["EmbedderService"].full_name


@dataclass
class EmbedderParts:
    embedder: ImageEmbedder
    store: StoreRunner
    writer: CatalogWriter
    redis: RedisGuard | None
    binding: ServiceBinding
    # What these parts opened themselves and must close; injected parts stay open.
    closers: list[Closer] = field(default_factory=list)


def build_embedder(
    settings: Settings,
    *,
    embedder: ImageEmbedder | None = None,
    store: StoreRunner | None = None,
    redis: RedisGuard | None = None,
) -> EmbedderParts:
    closers: list[Closer] = []
    if embedder is None:
        embedder = ImageEmbedder.from_settings(settings.model, settings.images)
        closers.append(embedder.close)
    if store is None:
        store = StoreRunner(
            open_store_for_writing(settings.store, embedder.model_id, embedder.dimension),
            settings.store.timeout_s,
        )
        closers.append(store.close)
    if redis is None and settings.redis.url:
        redis = RedisGuard(redis_client(settings.redis), settings.redis)
        closers.append(redis.close)
    generation = CatalogGeneration(redis, settings.redis.key_prefix) if redis else None
    writer = CatalogWriter(embedder, store, generation)
    servicer = EmbedderServicer(embedder, writer, store)
    binding = ServiceBinding(
        SERVICE_NAME,
        lambda server: embedder_pb2_grpc.add_EmbedderServiceServicer_to_server(servicer, server),
    )
    return EmbedderParts(embedder, store, writer, redis, binding, closers)


async def create_server(
    settings: Settings, *, embedder: ImageEmbedder | None = None, store: StoreRunner | None = None
) -> tuple[GrpcServer, int]:
    """A started embedder server; settings.server.port 0 binds a free port."""
    parts = build_embedder(settings, embedder=embedder, store=store)
    server = create_grpc_server(settings.server, [parts.binding], parts.closers)
    await server.start()
    return server, server.port
