"""An ASGI app served by uvicorn inside the process's event loop, behind an accept loop of our
own that keeps the listener up under connection floods.

uvicorn alone accepts until the process runs out of descriptors, never closes a connection
that sends half a request head, and lets a TLS handshake hang for a minute. Here:
- at most `max_connections` are open at once; beyond it a new connection is closed at once;
- a connection must send a complete request head within `head_timeout_s` of opening (or of
  the first byte of its next request), and finish its TLS handshake within the same time;
- an idle keep-alive connection is closed after `keepalive_s`;
- running out of descriptors pauses accepting briefly instead of spinning;
- every refusal is counted and said once per interval (RefusalLog).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import logging
import math
import socket
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from vrs.errors import ConfigurationError
from vrs.lifecycle import Closer, close_all, wait_for_stop_signal
from vrs.listeners.refusals import RefusalLog
from vrs.tls.server import HttpTls

log = logging.getLogger(__name__)

_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
# After accept() found no descriptor free: how long the backlog waits before the next try.
_ACCEPT_PAUSE_S = 0.1


@dataclass(frozen=True)
class HttpLimits:
    """What one HTTP listener allows a connection."""

    max_connections: int
    head_timeout_s: float = 5.0
    keepalive_s: float = 15.0
    refusal_log_every_s: float = 10.0


def bind_socket(host: str, port: int, what: str) -> socket.socket:
    """The listening socket (port 0: a free one); ConfigurationError naming the address and
    the listener when it is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(512)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        shown = f"[{host.strip('[]')}]" if ":" in host else host
        reason = (
            "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be bound: {exc.strerror}"
        )
        raise ConfigurationError(f"{shown}:{port} ({what}) {reason}") from None
    return sock


def check_port_free(host: str, port: int, what: str) -> None:
    """ConfigurationError naming the address when another socket listens on it (port 0 is
    always free)."""
    if port != 0:
        bind_socket(host, port, what).close()


class GuardedHttpServer:
    """A started HTTP(S) server for `app` on one socket; `stop` drains requests in flight."""

    def __init__(
        self,
        app: Any,
        sock: socket.socket,
        *,
        name: str,
        limits: HttpLimits,
        grace_s: float,
        tls: HttpTls | None = None,
        closers: list[Closer] | None = None,
    ) -> None:
        self.name = name
        self._sock = sock
        self._limits = limits
        self.max_connections = limits.max_connections
        self._tls = tls
        self._closers = list(closers or [])
        self.refusals = RefusalLog(name, limits.refusal_log_every_s)
        self.open_connections = 0
        config = uvicorn.Config(
            app,
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            timeout_keep_alive=max(1, math.ceil(limits.keepalive_s)),
            timeout_graceful_shutdown=max(1, math.ceil(grace_s)),
            http=functools.partial(_GuardedH11, guard=self),  # type: ignore[arg-type]
        )
        config.load()
        self._server = _AcceptingServer(config, self)
        self._task: asyncio.Task[None] | None = None
        self._tls_watch: asyncio.Task[None] | None = None
        self._stopped = False
        self.host, self.port = sock.getsockname()[:2]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self._tls else 'http'}://{host}:{self.port}"

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(), name=f"{self.name}-http")
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises what stopped it
                raise OSError(f"the {self.name} on {self.url} stopped while starting")
            await asyncio.sleep(0.01)
        if self._tls is not None:
            self._tls_watch = asyncio.create_task(self._tls.watch(), name=f"{self.name}-tls")
        log.info(
            "http serving",
            extra={
                "listener": self.name,
                "url": self.url,
                "max_connections": self._limits.max_connections,
            },
        )

    async def stop(self, grace_s: float | None = None) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._tls_watch is not None:
            self._tls_watch.cancel()
        if self._task is not None:
            self._server.should_exit = True
            try:
                await self._task
            except Exception:
                log.exception("http server stopped with an error", extra={"listener": self.name})
        self._sock.close()
        self.refusals.flush()
        await close_all(self._closers)
        log.info("http stopped", extra={"listener": self.name, "url": self.url})

    async def serve_until_signalled(self) -> None:
        """Serve until SIGTERM or SIGINT, then shut down gracefully."""
        await wait_for_stop_signal()
        log.info("shutdown signal received: draining", extra={"listener": self.name})
        await self.stop()

    # The accept loop, and the slots connections hold.

    def _admit(self) -> bool:
        if self.open_connections >= self._limits.max_connections:
            return False
        self.open_connections += 1
        return True

    def _released(self) -> None:
        self.open_connections -= 1

    async def accept_forever(self, protocol_factory: Any) -> None:
        loop = asyncio.get_running_loop()
        handshakes: set[asyncio.Task[None]] = set()
        try:
            while True:
                try:
                    conn, _ = await loop.sock_accept(self._sock)
                except OSError as exc:
                    if exc.errno not in _OUT_OF_RESOURCES:
                        raise
                    # No descriptor free: the backlog waits a moment instead of a spin that
                    # logs every try (other listeners' caps keep this rare).
                    self.refusals.count("no free descriptor")
                    await asyncio.sleep(_ACCEPT_PAUSE_S)
                    continue
                if not self._admit():
                    conn.close()
                    self.refusals.count("over the connection cap")
                    continue
                conn.setblocking(False)
                task = loop.create_task(self._connect(loop, conn, protocol_factory))
                handshakes.add(task)
                task.add_done_callback(handshakes.discard)
        finally:
            for task in handshakes:
                task.cancel()

    async def _connect(
        self, loop: asyncio.AbstractEventLoop, conn: socket.socket, protocol_factory: Any
    ) -> None:
        try:
            await loop.connect_accepted_socket(
                protocol_factory,
                conn,
                ssl=self._tls.context if self._tls is not None else None,
                ssl_handshake_timeout=self._limits.head_timeout_s if self._tls else None,
            )
        except (TimeoutError, OSError, ConnectionError) as exc:
            # A TLS handshake that failed or hung: the slot is free again.
            conn.close()
            self._released()
            self.refusals.count(f"tls handshake {type(exc).__name__}")
        except asyncio.CancelledError:
            conn.close()
            self._released()
            raise


class _AcceptingServer(uvicorn.Server):
    """uvicorn's server, with our accept loop instead of asyncio's, and no signal handlers of
    its own (the process stops gRPC and HTTP together)."""

    def __init__(self, config: uvicorn.Config, guard: GuardedHttpServer) -> None:
        super().__init__(config)
        self._guard = guard
        self._accepting: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        config = self.config

        def create_protocol(_loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config,
                server_state=self.server_state,
                app_state={},
                _loop=_loop,
            )

        self.servers = []
        self._accepting = asyncio.create_task(
            self._guard.accept_forever(create_protocol), name=f"{self._guard.name}-accept"
        )
        self.started = True

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self._accepting is not None:
            self._accepting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._accepting
        await super().shutdown(sockets)


class _GuardedH11(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, holding a slot of the listener's cap for its life, and
    closed when a request head does not arrive in time."""

    def __init__(self, *args: Any, guard: GuardedHttpServer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._guard = guard
        self._head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch_head()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch_head()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None
        self._guard._released()
        super().connection_lost(exc)

    def _watch_head(self) -> None:
        # IDLE: no complete request head pending (none yet, or part of one). A connection that
        # sent nothing since its last response is the keep-alive timer's; one that started a
        # head, or a new connection, has head_timeout_s to finish it.
        waiting = self.conn.their_state is h11.IDLE
        if not waiting:
            if self._head_deadline is not None:
                self._head_deadline.cancel()
                self._head_deadline = None
        elif self._head_deadline is None and (
            self.timeout_keep_alive_task is None or self.conn.trailing_data[0]
        ):
            self._head_deadline = self.loop.call_later(
                self._guard._limits.head_timeout_s, self._head_timed_out
            )

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self._guard.refusals.count("no complete request head in time")
            self.transport.close()
