"""Which services a process runs (both in one, the embedded default, or one of them), and
the one way to start a server for them.

The only module that wires the two services together. It imports the embedder (and with it
the model stack: torch, torchvision, timm) only for a process that runs the embedder, so a
search-only process starts without it and its image needs no model stack installed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from services.preflight import Role, preflight
from services.search.query_embedder import QueryEmbedder
from services.search.server import build_search
from vrs.catalog import Vector
from vrs.errors import VrsError
from vrs.grpc_server import GrpcServer, ServiceBinding, create_grpc_server
from vrs.image_source import ImageFetcher
from vrs.lifecycle import Closer
from vrs.logs import configure_logging, register_settings_secrets
from vrs.metrics.process import ProcessMetrics
from vrs.model_stack import model_stack_needed
from vrs.settings import LogSettings, Settings
from vrs.settings_errors import settings_problems
from vrs.store.async_store import AsyncStore
from vrs.tracing import configure_tracing, shutdown_tracing

if TYPE_CHECKING:
    from services.embedder.embedding import ImageEmbedder
    from services.embedder.server import EmbedderParts
    from services.search.server import SearchParts
    from services.web.server import WebServer

log = logging.getLogger(__name__)


class LocalQueryEmbedder:
    """Search's query embedder when the embedder runs in the same process: no network hop."""

    def __init__(self, embedder: ImageEmbedder) -> None:
        self._embedder = embedder

    async def embed(self, data: bytes) -> tuple[Vector, str]:
        return await self._embedder.embed(data), self._embedder.model_id

    async def model_id(self) -> str:
        return self._embedder.model_id

    async def close(self) -> None:
        """The embedder belongs to whoever built it."""


async def create_server(
    settings: Settings,
    role: Role = "all",
    *,
    image_embedder: ImageEmbedder | None = None,
    query_embedder: QueryEmbedder | None = None,
    fetcher: ImageFetcher | None = None,
    store: AsyncStore | None = None,
    registry: CollectorRegistry | None = None,
) -> tuple[GrpcServer, int]:
    """The started server of a process running `role`, on settings.server (port 0: a free one).

    One image fetcher serves the whole process. In "all", search embeds in the process and
    shares the embedder's store and Redis. Parts given here (tests: an embedder, search's
    query embedder, a fetcher, the store) are left open when the server stops. Every part
    registers its metrics in the process's one `registry` (default: a new one), served at
    /metrics when VRS_OBS_METRICS_PORT is set.
    """
    if role == "web":
        raise ValueError("the gateway alone has no gRPC server: use start_web_alone")
    bindings: list[ServiceBinding] = []
    closers: list[Closer] = []
    metrics = ProcessMetrics(registry)
    web: WebServer | None = None
    try:
        if fetcher is None:
            fetcher = ImageFetcher(settings.images)
            # First opened, last closed: after every service that reads images has stopped.
            closers.append(fetcher.close)
        if role in ("all", "embedder"):
            embedder = await _build_embedder(
                settings, fetcher, image_embedder, store, metrics.registry
            )
            served_store = embedder.store
            bindings.append(embedder.binding)
            closers += embedder.closers
        if role == "all":
            search = await build_search(
                settings,
                fetcher,
                embedder=LocalQueryEmbedder(embedder.embedder),
                store=embedder.store,
                redis=embedder.redis,
                stores=embedder.stores,
                registry=metrics.registry,
            )
            bindings.append(search.binding)
            closers += search.closers
            if settings.web.port is not None:
                web = await _start_local_gateway(settings, fetcher, search)
                # Closers run in reverse: the gateway stops before the services it calls.
                closers.append(web.stop)
        if role == "search":
            search = await build_search(
                settings, fetcher, embedder=query_embedder, store=store, registry=metrics.registry
            )
            served_store = search.store
            bindings.append(search.binding)
            closers += search.closers
        closers += metrics.serve(settings.obs, served_store.metrics, served_store.info)
        server = create_grpc_server(
            settings.server, bindings, closers, auth=settings.auth, metrics=metrics.grpc
        )
        server.metrics_port = metrics.port
        server.web_url = web.url if web is not None else None
        await server.start()
    except BaseException:
        # A refused start leaves nothing open behind it (a store lock, the model, a consumer).
        await _close_all(closers)
        raise
    return server, server.port


async def _start_local_gateway(
    settings: Settings, fetcher: ImageFetcher, search: SearchParts
) -> WebServer:
    # Imported here: only a process that serves HTTP loads the gateway's modules.
    from services.web.gateway import start_gateway
    from services.web.local_backend import LocalBackend

    return await start_gateway(settings, fetcher, LocalBackend(search.searcher, search.store))


async def start_web_alone(settings: Settings) -> WebServer:
    """The started gateway of `vrs serve --service web`: the gRPC services it calls are
    remote (VRS_WEB_SEARCH_ADDRESS, VRS_WEB_EMBEDDER_ADDRESS)."""
    from services.web.gateway import remote_backend, start_gateway

    fetcher = ImageFetcher(settings.images)
    closers: list[Closer] = [fetcher.close]
    try:
        backend = remote_backend(settings)
        closers.append(backend.close)
        return await start_gateway(settings, fetcher, backend, closers)
    except BaseException:
        await _close_all(closers)
        raise


async def _build_embedder(
    settings: Settings,
    fetcher: ImageFetcher,
    embedder: ImageEmbedder | None,
    store: AsyncStore | None,
    registry: CollectorRegistry,
) -> EmbedderParts:
    # Imported here, not at the top: only a process that embeds loads the model stack.
    with model_stack_needed("the embedder service"):
        from services.embedder.server import build_embedder
    return await build_embedder(
        settings, fetcher, embedder=embedder, store=store, registry=registry
    )


async def _close_all(closers: list[Closer]) -> None:
    for close in reversed(closers):
        try:
            await close()
        except Exception:
            log.exception("error while closing a resource after a refused start")


def run(role: Role = "all") -> int:
    """Serve until SIGTERM/SIGINT; the process exit code (2: refused to start)."""
    try:
        settings = Settings.from_env()
    except ValidationError as exc:
        # The log settings may be the invalid ones: log with the defaults.
        configure_logging(LogSettings.model_construct())
        log.error("cannot start: %s", settings_problems(exc), extra={"error": "ValidationError"})
        return 2
    configure_logging(settings.log)
    register_settings_secrets(settings)
    try:
        return asyncio.run(_serve(settings, role))
    finally:
        shutdown_tracing()  # the last spans still queued for export


async def _serve(settings: Settings, role: Role) -> int:
    try:
        configure_tracing(settings.obs, role)
        await preflight(settings, role)
        server: GrpcServer | WebServer
        if role == "web":
            server = await start_web_alone(settings)
        else:
            server, _ = await create_server(settings, role)
    except VrsError as exc:
        # Startup refusals (unreachable Qdrant or Redis, refused password, no weights, bad
        # settings, store owned by another process) are the operator's to fix: one clear line.
        log.error("cannot start: %s", exc, extra={"error": type(exc).__name__})
        return 2
    except Exception as exc:
        # Nothing foreseen, yet still one line for the operator; the traceback is at DEBUG.
        log.debug("startup failed", exc_info=True)
        log.error(
            "cannot start: unexpected %s: %s",
            type(exc).__name__,
            " ".join(str(exc).split()),
            extra={"error": type(exc).__name__},
        )
        return 2
    await server.serve_until_signalled()
    return 0
