"""The /metrics endpoint of a process: prometheus-client's ASGI app on the process's guarded
HTTP listener (capped connections, deadlines; HTTPS beyond loopback)."""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, make_asgi_app

from vrs.listeners.http_server import GuardedHttpServer, HttpLimits, bind_socket
from vrs.security.bind_policy import check_http_bind
from vrs.settings import ObservabilitySettings, ServerSettings
from vrs.tls.server import HttpTls

log = logging.getLogger(__name__)

OFFLOAD_SETTING = "VRS_OBS_METRICS_TLS_OFFLOADED"
METRICS_WHERE = "/metrics: VRS_OBS_METRICS_HOST, VRS_OBS_METRICS_PORT"


def check_metrics_bind(obs: ObservabilitySettings, server: ServerSettings) -> None:
    """ConfigurationError for a /metrics listener that would serve plain HTTP beyond loopback."""
    if obs.metrics_port is None:
        return
    check_http_bind(
        "/metrics endpoint",
        obs.metrics_host,
        obs.metrics_port,
        https=_https(obs, server),
        offload_setting=OFFLOAD_SETTING,
        offloaded=obs.metrics_tls_offloaded,
        insecure=server.insecure,
    )


async def start_metrics_endpoint(
    registry: CollectorRegistry,
    obs: ObservabilitySettings,
    server: ServerSettings,
    limits: HttpLimits,
) -> GuardedHttpServer:
    """Serves `registry` at /metrics on VRS_OBS_METRICS_HOST:PORT; ConfigurationError naming
    the address when it cannot be bound or would be unsafe."""
    if obs.metrics_port is None:
        raise ValueError("metrics are off (VRS_OBS_METRICS_PORT unset)")
    check_metrics_bind(obs, server)
    tls = HttpTls.from_settings(server) if _https(obs, server) else None
    endpoint = GuardedHttpServer(
        make_asgi_app(registry),
        bind_socket(
            obs.metrics_host,
            obs.metrics_port,
            "/metrics: VRS_OBS_METRICS_HOST, VRS_OBS_METRICS_PORT",
        ),
        name="metrics",
        limits=limits,
        grace_s=1.0,
        tls=tls,
    )
    await endpoint.start()
    return endpoint


def _https(obs: ObservabilitySettings, server: ServerSettings) -> bool:
    has_files = server.tls_cert_file is not None and server.tls_key_file is not None
    return has_files and not obs.metrics_tls_offloaded
