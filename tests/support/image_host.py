"""A real HTTP image host on loopback that holds its answers until the test lets them go."""

from __future__ import annotations

import asyncio
import contextlib

# Bounds so a test that forgets to release cannot hang the suite.
_HOLD_LIMIT_S = 30.0
_READ_LIMIT_S = 10.0


class HeldImageHost:
    """Serves `body` for any GET; each answer waits for `release` (set it to stop holding)."""

    def __init__(self, body: bytes) -> None:
        self._body = body
        self.requested = asyncio.Event()
        self.release = asyncio.Event()
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    def url(self, path: str = "/image.jpg") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def allowed_hosts(self) -> list[str]:
        """VRS_IMAGE_HTTP_ALLOWED_HOSTS entries that let the fetcher reach this host."""
        return ["127.0.0.1", f"127.0.0.1:{self.port}"]

    async def close(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _READ_LIMIT_S)
            self.requested.set()
            await asyncio.wait_for(self.release.wait(), _HOLD_LIMIT_S)
            head = (
                "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n"
                f"Content-Length: {len(self._body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + self._body)
            await writer.drain()
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            pass  # the client gave up: nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
