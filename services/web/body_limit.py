"""Request bodies above a limit are refused with 413 before they are read: at once when
Content-Length says so, else as soon as the bytes received pass the limit."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.web.errors import HttpError, error_response


def too_large(limit: int) -> HttpError:
    return HttpError(
        413,
        "PAYLOAD_TOO_LARGE",
        f"request body above the limit of {limit} bytes (VRS_WEB_MAX_UPLOAD_BYTES)",
    )


# A refused body up to this many times the limit is read and dropped (never kept) before the
# answer; a bigger one gets the answer at once and its connection closed.
DRAIN_FACTOR = 4


class BodyLimit:
    """ASGI middleware bounding every request body to `limit` bytes."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self._app = app
        self._limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self._limit:
            if declared <= self._limit * DRAIN_FACTOR:
                await _discard_body(receive, self._limit * DRAIN_FACTOR)
            error = too_large(self._limit)
            response = error_response(
                error.status, error.code, error.message, {"Connection": "close"}
            )
            await response(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self._limit:
                    if message.get("more_body", False):
                        await _discard_body(receive, self._limit * DRAIN_FACTOR)
                    raise too_large(self._limit)
            return message

        await self._app(scope, counting_receive, send)


async def _discard_body(receive: Receive, most: int) -> None:
    """Reads and drops the rest of a refused body, up to `most` bytes, so the client (which
    sends it all before reading an answer) gets the 413 instead of a reset connection."""
    dropped = 0
    while dropped <= most:
        message = await receive()
        if message["type"] != "http.request":
            return
        dropped += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None
