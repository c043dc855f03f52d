"""The /metrics HTTP endpoint of a process (prometheus-client's own server, in a thread)."""

from __future__ import annotations

import logging
import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server

from vrs.errors import ConfigurationError

log = logging.getLogger(__name__)


class MetricsEndpoint:
    """Serves `registry` at http://host:port/metrics until stopped."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self.host, self.port = server.server_address[:2]

    @classmethod
    def start(cls, registry: CollectorRegistry, host: str, port: int) -> MetricsEndpoint:
        """ConfigurationError naming VRS_OBS_METRICS_PORT when the port cannot be bound."""
        try:
            server, thread = start_http_server(port, host, registry)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot serve metrics on {host}:{port} (VRS_OBS_METRICS_HOST, "
                f"VRS_OBS_METRICS_PORT): {exc.strerror or exc}"
            ) from exc
        endpoint = cls(server, thread)
        log.info("metrics served", extra={"address": f"http://{host}:{endpoint.port}/metrics"})
        return endpoint

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
