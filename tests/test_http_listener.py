"""The guarded HTTP listener (gateway and /metrics) under misbehaving clients: a capped number
of connections, request heads and idle keep-alives on a deadline, refusals logged in summary."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from tests.support.http_listener import closed_by_server, get_hello, half_request, listener
from vrs.listeners.http_server import HttpLimits

FAST = HttpLimits(max_connections=8, head_timeout_s=0.5, keepalive_s=1.0, refusal_log_every_s=60)


async def test_a_connection_that_never_finishes_its_request_head_is_closed() -> None:
    async with listener(FAST) as server:
        sock = await asyncio.to_thread(half_request, server.port)
        with sock:
            assert await asyncio.to_thread(closed_by_server, sock, 5.0)


async def test_a_silent_connection_is_closed_after_the_head_timeout() -> None:
    async with listener(FAST) as server:
        with await asyncio.to_thread(half_request, server.port, b"") as sock:
            assert await asyncio.to_thread(closed_by_server, sock, 5.0)


async def test_a_head_trickled_byte_by_byte_is_still_closed_on_time() -> None:
    async with listener(FAST) as server:
        sock = await asyncio.to_thread(half_request, server.port, b"G")
        with sock:
            for byte in b"ET /hello HTTP/1.1\r\n":
                await asyncio.sleep(0.1)
                try:
                    sock.send(bytes([byte]))
                except OSError:
                    break  # closed: what the test waits for
            assert await asyncio.to_thread(closed_by_server, sock, 5.0)


async def test_an_idle_keep_alive_connection_is_closed() -> None:
    async with listener(FAST) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while not answer.endswith(b"hello"):
                answer += await asyncio.to_thread(sock.recv, 4096)
            assert await asyncio.to_thread(closed_by_server, sock, 5.0)


async def test_connections_beyond_the_cap_are_closed_at_once() -> None:
    limits = HttpLimits(max_connections=4, head_timeout_s=30, keepalive_s=30)
    async with listener(limits) as server:
        held = [await asyncio.to_thread(half_request, server.port) for _ in range(4)]
        await asyncio.sleep(0.2)
        try:
            extra = await asyncio.to_thread(half_request, server.port)
            with extra:
                assert await asyncio.to_thread(closed_by_server, extra, 2.0)
            assert server.open_connections == 4
        finally:
            for sock in held:
                sock.close()


async def test_the_listener_answers_again_while_a_flood_is_still_held() -> None:
    async with listener(FAST) as server:
        flood = [await asyncio.to_thread(half_request, server.port) for _ in range(20)]
        try:
            await asyncio.sleep(FAST.head_timeout_s * 3)  # the flood's heads time out
            assert await asyncio.to_thread(get_hello, server.port) == b"hello"
        finally:
            for sock in flood:
                sock.close()


async def test_refusals_are_logged_as_one_summary_line(caplog: pytest.LogCaptureFixture) -> None:
    limits = HttpLimits(max_connections=2, head_timeout_s=30, keepalive_s=30)
    async with listener(limits) as server:
        held = [await asyncio.to_thread(half_request, server.port) for _ in range(2)]
        with caplog.at_level(logging.WARNING, logger="vrs.listeners.refusals"):
            refused = [await asyncio.to_thread(half_request, server.port) for _ in range(50)]
            await asyncio.sleep(0.3)
            for sock in [*held, *refused]:
                sock.close()
    lines = [r for r in caplog.records if r.name == "vrs.listeners.refusals"]
    assert len(lines) == 1, "one line for the whole interval, flushed at stop"
    assert lines[0].counts == {"over the connection cap": 50}  # type: ignore[attr-defined]
