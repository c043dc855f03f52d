"""Starting the gateway of a process: its callers' check, its app, its HTTP server."""

from __future__ import annotations

from services.web.app import create_web_app
from services.web.auth import HttpAuth
from services.web.backend import SearchBackend
from services.web.gateway import Gateway
from services.web.grpc_backend import GrpcBackend
from services.web.http_server import DEFAULT_WEB_PORT, WebServer, bind_socket, check_web_bind
from vrs.auth.registry import CallerRegistry
from vrs.errors import ConfigurationError
from vrs.images.source import ImageFetcher
from vrs.lifecycle import Closer
from vrs.settings import Settings


def check_gateway_settings(settings: Settings) -> None:
    """ConfigurationError for a gateway that could not start safely (before anything loads)."""
    check_web_bind(settings.web.host, _port(settings), _auth_on(settings), settings.server.insecure)


async def start_gateway(
    settings: Settings,
    fetcher: ImageFetcher,
    backend: SearchBackend,
    closers: list[Closer] | None = None,
) -> WebServer:
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
    server = WebServer(
        app,
        bind_socket(settings.web.host, _port(settings)),
        settings.server.shutdown_grace_s,
        list(closers or ()),
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


def _port(settings: Settings) -> int:
    return DEFAULT_WEB_PORT if settings.web.port is None else settings.web.port


def _auth_on(settings: Settings) -> bool:
    return settings.auth.tokens_file is not None or settings.server.tls_client_ca_file is not None
