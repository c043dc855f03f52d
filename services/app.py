"""Which services a process runs: both in one (the embedded default) or one of them."""

from __future__ import annotations

import asyncio
import logging

from pydantic import ValidationError

from services.embedder.embedding import ImageEmbedder
from services.embedder.server import build_embedder
from services.preflight import Role, preflight
from services.search.query_embedder import LocalQueryEmbedder
from services.search.server import build_search
from vrs.errors import VrsError
from vrs.grpc_server import Closer, GrpcServer, ServiceBinding, create_grpc_server
from vrs.logs import configure_logging, register_settings_secrets
from vrs.settings import LogSettings, Settings
from vrs.settings_errors import settings_problems
from vrs.store.runner import StoreRunner

log = logging.getLogger(__name__)


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
    return asyncio.run(_serve(settings, role))


async def _serve(settings: Settings, role: Role) -> int:
    try:
        await preflight(settings, role)
        server, _ = await create_app_server(settings, role)
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
