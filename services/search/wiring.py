"""Assembling the search service: query embedder, store, cache and servicer."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry

from services.search.cache import SearchCache
from services.search.query_embedder import GrpcQueryEmbedder, QueryEmbedder
from services.search.searcher import Searcher
from services.search.servicer import SearchServicer, add_to_server
from services.search.wire import ProtoResultCodec
from vrs.catalog.money import FxRates
from vrs.errors import ConfigurationError, Unavailable
from vrs.images.source import ImageFetcher
from vrs.lifecycle import Closer
from vrs.limits import check_response_fits
from vrs.observability.metrics.registry import register
from vrs.observability.metrics.search import SearchMetrics
from vrs.redis_access.connection import redis_client
from vrs.redis_access.generation import CatalogGeneration
from vrs.redis_access.guard import RedisGuard
from vrs.rpc.server import ServiceBinding
from vrs.settings import Settings
from vrs.store.async_store import AsyncStore
from vrs.store.factory import check_shared_store, open_store_for_reading
from vrs.store.model_stores import ModelStores
from vrs.v1 import search_pb2

log = logging.getLogger(__name__)

SERVICE_NAME = search_pb2.DESCRIPTOR.services_by_name["SearchService"].full_name


@dataclass
class SearchParts:
    """A search service ready to bind to a gRPC server, and what to close when it stops."""

    searcher: Searcher
    store: AsyncStore
    binding: ServiceBinding
    closers: list[Closer] = field(default_factory=list)


async def build_search(
    settings: Settings,
    fetcher: ImageFetcher,
    *,
    embedder: QueryEmbedder | None = None,
    store: AsyncStore | None = None,
    redis: RedisGuard | None = None,
    generation: CatalogGeneration | None = None,
    stores: ModelStores | None = None,
    registry: CollectorRegistry | None = None,
) -> SearchParts:
    """The search service of a process: answers from the store, query images embedded by
    `embedder` (default: the embedder fleet at VRS_SEARCH_EMBEDDER_ADDRESS).

    The process's image fetcher, and parts given here, belong to the caller: left open.
    """
    closers: list[Closer] = []
    check_response_fits(
        settings.search.max_k, settings.search.max_batch_queries, settings.server.max_message_mb
    )
    if store is None:
        check_shared_store(settings.store)  # fail fast, before waiting for the embedder
    if embedder is None:
        address = settings.search.embedder_address
        if not address:
            raise ConfigurationError(
                "the search service on its own needs VRS_SEARCH_EMBEDDER_ADDRESS (host:port of "
                "the embedder); `vrs serve` runs both in one process"
            )
        embedder = GrpcQueryEmbedder(
            address,
            settings.search.embedder_timeout_s,
            settings.server.max_message_mb,
            settings.client,
            settings.server.tls_reload_s,
        )
        closers.append(embedder.close)
    if store is None:
        model_id = await _embedder_model(embedder, settings.search.embedder_startup_wait_s)
        store = AsyncStore(
            open_store_for_reading(settings.store, model_id), settings.store.timeout_s
        )
        closers.append(store.close)
    if redis is None and settings.redis.url:
        redis = RedisGuard(redis_client(settings.redis), settings.redis)
        closers.append(redis.close)
        if registry is not None:
            register(registry, redis.health.collectors())
    metrics = SearchMetrics()
    if registry is not None:
        register(registry, metrics.collectors())
    cache = None
    if redis is not None:
        if generation is None:
            # A search-only process makes its own; beside an embedder it shares the writer's.
            generation = CatalogGeneration(redis, settings.redis.key_prefix)
        cache = SearchCache(
            redis,
            generation,
            settings.cache,
            settings.redis.key_prefix,
            metrics,
            codec=ProtoResultCodec(),
        )
    if cache is None:
        log.warning("search cache is OFF: VRS_REDIS_URL is not set")
    else:
        log.info(
            "search cache on",
            extra={
                "result_ttl_s": settings.cache.result_ttl_s,
                "embedding_ttl_s": settings.cache.embedding_ttl_s,
            },
        )
    if stores is None:
        stores = ModelStores(settings.store)
        closers.append(stores.close)
    searcher = Searcher(
        embedder,
        fetcher,
        store,
        cache,
        settings.search,
        stores=stores,
        metrics=metrics,
        model_refresh_s=settings.store.alias_refresh_s,
        rates=_rates(settings.pricing.rates_file),
    )
    servicer = SearchServicer(searcher, store)
    binding = ServiceBinding(SERVICE_NAME, lambda server: add_to_server(servicer, server))
    return SearchParts(searcher, store, binding, closers)


def _rates(path: Path | None) -> FxRates | None:
    if path is None:
        return None
    rates = FxRates.load(path)
    log.info("exchange rates loaded", extra={"base": rates.base, "currencies": len(rates.rates)})
    return rates


async def _embedder_model(embedder: QueryEmbedder, wait_s: float) -> str:
    """The embedder's model id; replicas may start before the embedder fleet is up."""
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        try:
            return await embedder.model_id()
        except Unavailable as exc:
            if asyncio.get_running_loop().time() >= deadline:
                raise
            log.info("waiting for the embedder", extra={"error": str(exc)})
            await asyncio.sleep(2.0)
