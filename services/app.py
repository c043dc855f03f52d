"""Which services a process runs: both in one (the embedded default) or one of them."""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

from services.embedder.embedding import ImageEmbedder
from services.embedder.server import build_embedder
from services.search.query_embedder import LocalQueryEmbedder
from services.search.server import build_search
from vrs.errors import VrsError
from vrs.grpc_server import Closer, GrpcServer, ServiceBinding, create_grpc_server
from vrs.logs import configure_logging
from vrs.settings import Settings
from vrs.store.runner import StoreRunner

log = logging.getLogger(__name__)

Role = Literal["all", "embedder", "search"]


async def create_app_server(
    settings: Settings,
    role: Role = "all",
    *,
    image_embedder: ImageEmbedder | None = None,
    store: StoreRunner | None = None,
) -> tuple[GrpcServer, int]:
    """A started server for `role`. In "all", search embeds in-process and shares the store.

    image_embedder and store may be injected (tests); the server then leaves them open.
    """
    bindings: list[ServiceBinding] = []
    closers: list[Closer] = []
    if role in ("all", "embedder"):
        embedder = await build_embedder(settings, embedder=image_embedder, store=store)
        bindings.append(embedder.binding)
        closers += embedder.closers
    if role == "all":
        search = await build_search(
            settings,
            embedder=LocalQueryEmbedder(embedder.embedder),
            store=embedder.store,
            redis=embedder.redis,
        )
        bindings.append(search.binding)
        closers += search.closers
    if role == "search":
        search = await build_search(settings, store=store)
        bindings.append(search.binding)
        closers += search.closers
    server = create_grpc_server(settings.server, bindings, closers)
    await server.start()
    return server, server.port


def run(role: Role = "all") -> int:
    """Serve until SIGTERM/SIGINT; the process exit code."""
    settings = Settings.from_env()
    configure_logging(settings.log)

    async def serve() -> None:
        server, _ = await create_app_server(settings, role)
        await server.serve_until_signalled()

    try:
        asyncio.run(serve())
    except VrsError as exc:
        # Startup refusals (no weights, bad settings, store owned by another process) are
        # the operator's to fix: one clear line, no traceback.
        log.error("cannot start: %s", exc, extra={"error": type(exc).__name__})
        return 2
    return 0
