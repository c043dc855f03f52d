"""Checks of a process's dependencies before the model loads: a refusal in seconds, not
after a minute of loading weights."""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

from vrs.errors import VrsError
from vrs.redis_access.check import check_redis, check_redis_settings
from vrs.security.bind_policy import check_bind
from vrs.settings import Settings
from vrs.store.factory import check_shared_store
from vrs.store.qdrant_errors import endpoint
from vrs.store.qdrant_server_store import connect
from vrs.tls.server import ServerTls

log = logging.getLogger(__name__)

Role = Literal["all", "embedder", "search", "web"]


async def preflight(settings: Settings, role: Role) -> None:
    """Raises the VrsError that would otherwise stop startup later (Qdrant, events Redis);
    warns about a cache Redis that does not answer (the cache is optional)."""
    if role == "web" or (role == "all" and settings.web.port is not None):
        # Imported here: only a process that serves HTTP needs the gateway's modules.
        from services.web.wiring import check_gateway_settings

        check_gateway_settings(settings)
    if role == "web":
        return  # the gateway alone reaches only the gRPC services, checked when it starts
    # Redis settings that cannot work (a password in plaintext to another host, TLS files
    # without rediss://) refuse the start even when Redis is only the optional cache.
    check_redis_settings(settings.redis)
    # A server open to the network without TLS and auth, or with unusable TLS files, is
    # refused before the model loads (create_grpc_server checks again, and warns).
    check_bind(settings.server, settings.auth, warn=False)
    ServerTls.from_settings(settings.server)
    if role == "search":
        check_shared_store(settings.store)
    if settings.store.url and settings.store.url != ":memory:":
        client = await asyncio.to_thread(connect, settings.store)
        await asyncio.to_thread(client.close)
        # The port dialled is not always the URL's (gRPC uses VRS_QDRANT_GRPC_PORT): say which.
        log.info("qdrant: %s", endpoint(settings.store))
    if settings.redis.url and not (settings.events.enabled and role != "search"):
        await _warn_if_cache_redis_down(settings)


async def _warn_if_cache_redis_down(settings: Settings) -> None:
    try:
        await check_redis(settings.redis, "the search cache")
    except VrsError as exc:
        log.warning(
            "Redis does not answer; serving uncached and retrying",
            extra={"error": str(exc), "retry_after_s": settings.redis.retry_after_s},
        )
