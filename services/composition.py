"""The composition root: which services a process runs (all in one, the embedded default,
or one of them), built from a table of builders per role, and the one way to start it.

The only module that wires the services together. It imports the embedder (and with it
the model stack: torch, torchvision, timm) only for a process that runs the embedder, so a
search-only process starts without it and its image needs no model stack installed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from services.preflight import Role, preflight
from services.search.query_embedder import EmbeddedQuery, QueryEmbedder
from services.search.wiring import build_search
from vrs.errors import VrsError
from vrs.images.region import Region
from vrs.images.source import ImageFetcher
from vrs.lifecycle import Closer
from vrs.listeners.descriptors import ConnectionCaps, process_caps
from vrs.listeners.http_server import GuardedHttpServer, HttpLimits
from vrs.modelinfo.stack import model_stack_needed
from vrs.observability.logs import configure_logging, register_settings_secrets
from vrs.observability.metrics.process import ProcessMetrics
from vrs.observability.tracing import configure_tracing, shutdown_tracing
from vrs.rpc.server import GrpcServer, ServiceBinding, create_grpc_server
from vrs.settings import LogSettings, Settings
from vrs.settings.problems import settings_problems
from vrs.store.async_store import AsyncStore
from vrs.tls.server import ServerTls

if TYPE_CHECKING:
    from services.embedder.embedding.embedder import ImageEmbedder
    from services.embedder.wiring import EmbedderParts
    from services.search.wiring import SearchParts

log = logging.getLogger(__name__)


class LocalQueryEmbedder:
    """Search's query embedder when the embedder runs in the same process: no network hop."""

    def __init__(self, embedder: ImageEmbedder) -> None:
        self._embedder = embedder

    async def embed(self, data: bytes, region: Region | None) -> EmbeddedQuery:
        query = await self._embedder.embed_query(data, region)
        return EmbeddedQuery(query.vector, self._embedder.model_id, query.region)

    async def model_id(self) -> str:
        return self._embedder.model_id

    async def close(self) -> None:
        """The embedder belongs to whoever built it."""


@dataclass(frozen=True)
class GivenParts:
    """Parts a caller hands in (tests: an embedder, search's query embedder, a fetcher, the
    store); they belong to the caller and stay open when the server stops."""

    image_embedder: ImageEmbedder | None = None
    query_embedder: QueryEmbedder | None = None
    store: AsyncStore | None = None


@dataclass
class Assembly:
    """A process being assembled: what its services share, filled in by its role's builders
    in order (see BUILDERS)."""

    settings: Settings
    fetcher: ImageFetcher
    metrics: ProcessMetrics
    given: GivenParts
    caps: ConnectionCaps
    bindings: list[ServiceBinding] = field(default_factory=list)
    closers: list[Closer] = field(default_factory=list)
    embedder: EmbedderParts | None = None
    search: SearchParts | None = None
    web: GuardedHttpServer | None = None

    def served_store(self) -> AsyncStore:
        """The store whose metrics this process serves: the one it writes, else the one it
        reads."""
        if self.embedder is not None:
            return self.embedder.store
        if self.search is not None:
            return self.search.store
        raise RuntimeError("a process serves at least one service")


Builder = Callable[[Assembly], Awaitable[None]]


async def _embedder(process: Assembly) -> None:
    # Imported here, not at the top: only a process that embeds loads the model stack.
    with model_stack_needed("the embedder service"):
        from services.embedder.wiring import build_embedder
    parts = await build_embedder(
        process.settings,
        process.fetcher,
        embedder=process.given.image_embedder,
        store=process.given.store,
        registry=process.metrics.registry,
    )
    process.embedder = parts
    process.bindings.append(parts.binding)
    process.closers.extend(parts.closers)


async def _search_beside_embedder(process: Assembly) -> None:
    """Search embeds in the process and shares the embedder's store, Redis and generation."""
    embedder = process.embedder
    if embedder is None:
        raise RuntimeError("the embedder is built before the search beside it")
    parts = await build_search(
        process.settings,
        process.fetcher,
        embedder=LocalQueryEmbedder(embedder.embedder),
        store=embedder.store,
        redis=embedder.redis,
        generation=embedder.generation,
        stores=embedder.stores,
        registry=process.metrics.registry,
    )
    process.search = parts
    process.bindings.append(parts.binding)
    process.closers.extend(parts.closers)


async def _search_alone(process: Assembly) -> None:
    """Search with the embedder fleet at VRS_SEARCH_EMBEDDER_ADDRESS (unless given one)."""
    parts = await build_search(
        process.settings,
        process.fetcher,
        embedder=process.given.query_embedder,
        store=process.given.store,
        registry=process.metrics.registry,
    )
    process.search = parts
    process.bindings.append(parts.binding)
    process.closers.extend(parts.closers)


async def _local_gateway(process: Assembly) -> None:
    """The HTTP gateway in the same process, when VRS_WEB_PORT is set."""
    if process.settings.web.port is None or process.search is None:
        return
    # Imported here: only a process that serves HTTP loads the gateway's modules.
    from services.web.local_backend import LocalBackend
    from services.web.wiring import start_gateway

    search = process.search
    web = await start_gateway(
        process.settings,
        process.fetcher,
        LocalBackend(search.searcher, search.store),
        http_limits(process.settings, process.caps.web),
    )
    process.web = web
    process.metrics.listeners.watch(web)
    # Closers run in reverse: the gateway stops before the services it calls.
    process.closers.append(web.stop)


# What each role's process is built from, in order; "web" alone has no gRPC server.
BUILDERS: Mapping[Role, tuple[Builder, ...]] = {
    "all": (_embedder, _search_beside_embedder, _local_gateway),
    "embedder": (_embedder,),
    "search": (_search_alone,),
}


@dataclass(frozen=True)
class RunningProcess:
    """A started vrs process: its gRPC server and the endpoints it serves beside it."""

    grpc: GrpcServer
    # Port of the process's /metrics endpoint (None: metrics are not served).
    metrics_port: int | None
    # URL of the process's web gateway (None: no gateway in this process).
    web_url: str | None

    @property
    def port(self) -> int:
        return self.grpc.port

    @property
    def tls(self) -> ServerTls | None:
        return self.grpc.tls

    async def stop(self, grace_s: float | None = None) -> None:
        await self.grpc.stop(grace_s)

    async def serve_until_signalled(self) -> None:
        await self.grpc.serve_until_signalled()


async def create_server(
    settings: Settings,
    role: Role = "all",
    *,
    image_embedder: ImageEmbedder | None = None,
    query_embedder: QueryEmbedder | None = None,
    fetcher: ImageFetcher | None = None,
    store: AsyncStore | None = None,
    registry: CollectorRegistry | None = None,
) -> tuple[RunningProcess, int]:
    """The started process running `role`, on settings.server (port 0: a free one), and its
    gRPC port.

    One image fetcher serves the whole process. Parts given here (tests: an embedder,
    search's query embedder, a fetcher, the store) are left open when the server stops. Every
    part registers its metrics in the process's one `registry` (default: a new one), served at
    /metrics when VRS_OBS_METRICS_PORT is set.
    """
    builders = BUILDERS.get(role)
    if builders is None:
        raise ValueError(f"role {role!r} has no gRPC server: use start_web_alone")
    closers: list[Closer] = []
    if fetcher is None:
        fetcher = ImageFetcher(settings.images)
        # First opened, last closed: after every service that reads images has stopped.
        closers.append(fetcher.close)
    caps = process_caps(
        grpc=True,
        web=role == "all" and settings.web.port is not None,
        metrics=settings.obs.metrics_port is not None,
        reserve=settings.connections.reserved_descriptors,
    )
    process = Assembly(
        settings,
        fetcher,
        ProcessMetrics(registry),
        GivenParts(image_embedder, query_embedder, store),
        caps,
        closers=closers,
    )
    try:
        for build in builders:
            await build(process)
        store_served = process.served_store()
        process.closers += await process.metrics.serve(
            settings,
            http_limits(settings, caps.metrics),
            store_served.metrics,
            store_served.info,
        )
        server = create_grpc_server(
            settings.server,
            process.bindings,
            process.closers,
            auth=settings.auth,
            metrics=process.metrics.grpc,
            connections=settings.connections,
            max_connections=caps.grpc,
        )
        await server.start()
    except BaseException:
        # A refused start leaves nothing open behind it (a store lock, the model, a consumer).
        await _close_all(process.closers)
        raise
    running = RunningProcess(
        server, process.metrics.port, process.web.url if process.web is not None else None
    )
    return running, server.port


def http_limits(settings: Settings, max_connections: int) -> HttpLimits:
    """What an HTTP listener of this process allows a connection."""
    connections = settings.connections
    return HttpLimits(
        max_connections,
        connections.head_timeout_s,
        connections.http_keepalive_s,
        connections.refusal_log_every_s,
    )


async def start_web_alone(settings: Settings) -> GuardedHttpServer:
    """The started gateway of `vrs serve --service web`: the gRPC services it calls are
    remote (VRS_WEB_SEARCH_ADDRESS, VRS_WEB_EMBEDDER_ADDRESS)."""
    from services.web.wiring import remote_backend, start_gateway

    caps = process_caps(
        grpc=False,
        web=True,
        metrics=False,
        reserve=settings.connections.reserved_descriptors,
    )
    fetcher = ImageFetcher(settings.images)
    closers: list[Closer] = [fetcher.close]
    try:
        backend = remote_backend(settings)
        closers.append(backend.close)
        return await start_gateway(
            settings, fetcher, backend, http_limits(settings, caps.web), closers
        )
    except BaseException:
        await _close_all(closers)
        raise


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
        server: RunningProcess | GuardedHttpServer
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
