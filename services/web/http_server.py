"""The gateway's HTTP server: uvicorn inside the process's event loop, stopped gracefully."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
from collections.abc import Generator

import uvicorn
from fastapi import FastAPI

from vrs.errors import ConfigurationError
from vrs.lifecycle import Closer, close_all, wait_for_stop_signal
from vrs.security.bind_policy import is_loopback

log = logging.getLogger(__name__)

# Unset VRS_WEB_PORT: `vrs serve --service web` still needs a port.
DEFAULT_WEB_PORT = 8080


class _InLoopServer(uvicorn.Server):
    # The process handles SIGTERM/SIGINT itself (graceful gRPC and HTTP shutdown together).
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class WebServer:
    """A started HTTP server for `app` on one port; `stop` drains requests in flight."""

    def __init__(
        self, app: FastAPI, sock: socket.socket, grace_s: float, closers: list[Closer]
    ) -> None:
        config = uvicorn.Config(
            app,
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=max(1, math.ceil(grace_s)),
        )
        self._server = _InLoopServer(config)
        self._sock = sock
        self._closers = closers
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        self.host, self.port = sock.getsockname()[:2]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve([self._sock]), name="web-gateway")
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises what stopped it
                raise OSError(f"the web gateway on {self.url} stopped while starting")
            await asyncio.sleep(0.01)
        log.info("web gateway serving", extra={"url": self.url})

    async def stop(self, grace_s: float | None = None) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._task is not None:
            self._server.should_exit = True
            try:
                await self._task
            except Exception:
                log.exception("web gateway stopped with an error")
        self._sock.close()
        await close_all(self._closers)
        log.info("web gateway stopped", extra={"url": self.url})

    async def serve_until_signalled(self) -> None:
        """Serve until SIGTERM or SIGINT, then shut down gracefully."""
        await wait_for_stop_signal()
        log.info("shutdown signal received: draining")
        await self.stop()


def bind_socket(host: str, port: int) -> socket.socket:
    """The listening socket (port 0: a free one); OSError naming the address when taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port} (web gateway): {exc.strerror}") from None
    return sock


def check_web_bind(host: str, port: int, auth_on: bool, insecure: bool) -> None:
    """A gateway reachable from the network needs callers to authenticate (or the opt-in)."""
    if is_loopback(host) or auth_on:
        return
    if insecure:
        log.warning(
            "web gateway on %s:%s without authentication because VRS_GRPC_INSECURE is on: "
            "whoever reaches this port can search the catalog",
            host,
            port,
        )
        return
    raise ConfigurationError(
        f"refusing to serve the web gateway on {host}:{port} (not loopback) without "
        "authentication (VRS_AUTH_TOKENS_FILE): set it, or listen on loopback "
        "(VRS_WEB_HOST=127.0.0.1), or set VRS_GRPC_INSECURE=true on a trusted network"
    )
