"""Errors as HTTP answers, in one place: the gRPC status a domain error maps to (vrs.rpc.status,
the one table) decides the HTTP status, and the body is `{"error": {"code", "message"}}`."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from vrs.errors import VrsError
from vrs.rpc.status import status_code
from vrs.security.redact import redact_text

log = logging.getLogger(__name__)

_HTTP_STATUS: Mapping[grpc.StatusCode, int] = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 503,
    grpc.StatusCode.UNIMPLEMENTED: 501,
}
# HTTP statuses raised by the framework itself (unknown route, wrong method, ...).
_LOCATIONS = frozenset({"body", "query", "path", "form", "header"})
_CODE_OF_HTTP = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "INVALID_ARGUMENT",
    409: "FAILED_PRECONDITION",
    413: "PAYLOAD_TOO_LARGE",
    415: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    503: "UNAVAILABLE",
}


class HttpError(StarletteHTTPException):
    """An answer the gateway itself gives (auth, size limits), with its gRPC-style code."""

    # An HTTPException: FastAPI passes it on as is when raised while it reads a request body
    # (the body limit), where any other error would become a generic 400.
    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(status, message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    # A safety net: messages are written without secrets, but one echoing a URL must not leak.
    body = {"error": {"code": code, "message": redact_text(message)}}
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def domain_error_response(error: VrsError) -> JSONResponse:
    code = status_code(error)
    return error_response(_HTTP_STATUS.get(code, 500), code.name, str(error))


def install_error_handlers(app: FastAPI) -> None:
    """Every failure becomes a JSON error body; nothing unforeseen leaks its details."""

    async def on_error(request: Request, exc: Exception) -> JSONResponse:
        return _response_for(request, exc)

    for kind in (VrsError, HttpError, RequestValidationError, StarletteHTTPException, Exception):
        app.add_exception_handler(kind, on_error)


def _response_for(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, VrsError):
        return domain_error_response(exc)
    if isinstance(exc, HttpError):
        return error_response(exc.status, exc.code, exc.message, exc.headers)
    if isinstance(exc, RequestValidationError):
        return error_response(400, "INVALID_ARGUMENT", _validation_message(exc))
    if isinstance(exc, StarletteHTTPException):
        code = _CODE_OF_HTTP.get(exc.status_code, "INTERNAL")
        return error_response(exc.status_code, code, str(exc.detail), exc.headers)
    log.error(
        "unhandled error",
        exc_info=exc,
        extra={"method": request.method, "path": request.url.path},
    )
    return error_response(500, "INTERNAL", f"internal error: {type(exc).__name__}")


def _validation_message(exc: RequestValidationError) -> str:
    problems = []
    for error in exc.errors()[:5]:
        where = ".".join(str(part) for part in error.get("loc", ()) if part not in _LOCATIONS)
        problems.append(f"{where or 'request'}: {error.get('msg', 'invalid')}")
    return "; ".join(problems) or "invalid request"
