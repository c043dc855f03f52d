"""Starting the gateway of a process: its callers' check, its app, its HTTP server."""

from __future__ import annotations

import logging

from services.web.app import create_web_app
from services.web.auth import HttpAuth
from services.web.backend import SearchBackend
from services.web.gateway import Gateway
from services.web.grpc_backend import GrpcBackend
from vrs.auth.registry import CallerRegistry
from vrs.errors import ConfigurationError
from vrs.images.source import ImageFetcher
from vrs.lifecycle import Closer
from vrs.listeners.http_server import GuardedHttpServer, HttpLimits, bind_socket
from vrs.security.bind_policy import check_http_bind, is_loopback
from vrs.settings import Settings
from vrs.tls.server import HttpTls

log = logging.getLogger(__name__)

# Unset VRS_WEB_PORT: `vrs serve --service web` still needs a port.
DEFAULT_WEB_PORT = 8080
OFFLOAD_SETTING = "VRS_WEB_TLS_OFFLOADED"
WHERE = "web gateway: VRS_WEB_HOST, VRS_WEB_PORT"


def check_gateway_settings(settings: Settings) -> None:
    """ConfigurationError for a gateway that could not start safely (before anything loads):
    beyond loopback it needs callers to authenticate, and HTTPS (or TLS ending in front)."""
    host, port, insecure = settings.web.host, web_port(settings), settings.server.insecure
    if not is_loopback(host) and not _auth_on(settings):
        if not insecure:
            raise ConfigurationError(
                f"refusing to serve the web gateway on {host}:{port} (not loopback) without "
                "authentication (VRS_AUTH_TOKENS_FILE): set it, or listen on loopback "
                "(VRS_WEB_HOST=127.0.0.1), or set VRS_GRPC_INSECURE=true on a trusted network"
            )
        log.warning(
            "web gateway on %s:%s without authentication because VRS_GRPC_INSECURE is on: "
            "whoever reaches this port can search the catalog",
            host,
            port,
        )
    check_http_bind(
        "web gateway",
        host,
        port,
        https=_https(settings),
        offload_setting=OFFLOAD_SETTING,
        offloaded=settings.web.tls_offloaded,
        insecure=insecure,
    )


async def start_gateway(
    settings: Settings,
    fetcher: ImageFetcher,
    backend: SearchBackend,
    limits: HttpLimits,
    closers: list[Closer] | None = None,
) -> GuardedHttpServer:
    """The started gateway on VRS_WEB_HOST:VRS_WEB_PORT; `closers` run when it stops.

    Callers are checked against the same tokens file and roles as the gRPC services.
    """
    check_gateway_settings(settings)
    auth_on = _auth_on(settings)
    # Client certificates cannot reach the gateway: with mTLS alone, no HTTP caller gets in.
    callers = (
        CallerRegistry.load(settings.auth.tokens_file, settings.auth.reload_s) if auth_on else None
    )
    app = create_web_app(Gateway(backend, fetcher, HttpAuth(callers)), settings.web)
    server = GuardedHttpServer(
        app,
        bind_socket(settings.web.host, web_port(settings), WHERE),
        name="web gateway",
        limits=limits,
        grace_s=settings.server.shutdown_grace_s,
        tls=HttpTls.from_settings(settings.server) if _https(settings) else None,
        closers=list(closers or ()),
    )
    await server.start()
    return server


def remote_backend(settings: Settings) -> GrpcBackend:
    """`--service web`: the search and embedder services at VRS_WEB_*_ADDRESS."""
    web = settings.web
    missing = [
        name
        for name, value in (
            ("VRS_WEB_SEARCH_ADDRESS", web.search_address),
            ("VRS_WEB_EMBEDDER_ADDRESS", web.embedder_address),
        )
        if not value
    ]
    if missing or web.search_address is None or web.embedder_address is None:
        raise ConfigurationError(
            f"the web gateway on its own needs {' and '.join(missing)} (host:port of the gRPC "
            "services); `vrs serve` with VRS_WEB_PORT runs it with them in one process"
        )
    return GrpcBackend(
        web.search_address,
        web.embedder_address,
        settings.client,
        web.timeout_s,
        settings.server.max_message_mb,
    )


def web_port(settings: Settings) -> int:
    return DEFAULT_WEB_PORT if settings.web.port is None else settings.web.port


def _auth_on(settings: Settings) -> bool:
    return settings.auth.tokens_file is not None or settings.server.tls_client_ca_file is not None


def _https(settings: Settings) -> bool:
    server = settings.server
    has_files = server.tls_cert_file is not None and server.tls_key_file is not None
    return has_files and not settings.web.tls_offloaded
