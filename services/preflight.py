"""Checks of a process's dependencies before the model loads: a refusal in seconds, not
after a minute of loading weights."""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

from vrs.errors import VrsError
from vrs.listeners.http_server import check_port_free
from vrs.observability.metrics.http import METRICS_WHERE, check_metrics_bind
from vrs.redis_access.check import check_redis, check_redis_settings
from vrs.rpc.server import GRPC_WHERE
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
    serves_web = role == "web" or (role == "all" and settings.web.port is not None)
    if serves_web:
        # Imported here: only a process that serves HTTP needs the gateway's modules.
        from services.web.wiring import WHERE, check_gateway_settings, web_port

        check_gateway_settings(settings)
        check_port_free(settings.web.host, web_port(settings), WHERE)
    if role == "web":
        return  # the gateway alone reaches only the gRPC services, checked when it starts
    # Ports taken are said now, before the model loads (each listener says so again if it
    # is taken meanwhile).
    check_port_free(settings.server.host, settings.server.port, GRPC_WHERE)
    if settings.obs.metrics_port is not None:
        check_metrics_bind(settings.obs, settings.server)
        check_port_free(settings.obs.metrics_host, settings.obs.metrics_port, METRICS_WHERE)
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
