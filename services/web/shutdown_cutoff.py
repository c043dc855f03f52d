"""A request still running when graceful shutdown's grace runs out gets the API's JSON error
(503, Retry-After), not uvicorn's plain-text 500: it may be retried on another replica."""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.web.errors import error_response

# Seconds a client should wait before trying again (another replica, or this one restarted).
RETRY_AFTER_S = 1


class ShutdownCutoff:
    """ASGI middleware answering a request cancelled before its response began."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self._app(scope, receive, tracked)
        except asyncio.CancelledError:
            # uvicorn cancels what is left when the grace runs out; answered, the request is
            # no longer its to fail with a bare 500.
            if not started:
                response = error_response(
                    503,
                    "UNAVAILABLE",
                    "the server is shutting down; retry the request",
                    {"Retry-After": str(RETRY_AFTER_S)},
                )
                await response(scope, receive, send)
            raise
