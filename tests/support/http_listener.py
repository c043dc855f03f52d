"""A guarded HTTP listener serving a one-route app, and raw clients that misbehave at it."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from vrs.listeners.http_server import GuardedHttpServer, HttpLimits, bind_socket
from vrs.tls.server import HttpTls


async def _hello(_: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


HELLO_APP = Starlette(routes=[Route("/hello", _hello)])


@asynccontextmanager
async def listener(
    limits: HttpLimits, tls: HttpTls | None = None
) -> AsyncIterator[GuardedHttpServer]:
    server = GuardedHttpServer(
        HELLO_APP,
        bind_socket("127.0.0.1", 0, "test listener"),
        name="test listener",
        limits=limits,
        grace_s=1.0,
        tls=tls,
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def half_request(port: int, head: bytes = b"GET /hel") -> socket.socket:
    """A connection that sends part of a request line and then nothing (blocking socket)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if head:
        sock.sendall(head)
    return sock


def closed_by_server(sock: socket.socket, within_s: float) -> bool:
    """True when the server closes `sock` (EOF or reset) within `within_s`."""
    sock.settimeout(within_s)
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def get_hello(port: int, timeout_s: float = 5.0) -> bytes:
    """One GET /hello on a new connection: the response body (blocking)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        sock.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    return data.partition(b"\r\n\r\n")[2]
