"""Where a Qdrant server is reached, and its failures as domain errors that say so."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import grpc
import httpx
from qdrant_client.http.exceptions import ApiException, UnexpectedResponse

from vrs.errors import ConfigurationError, Unavailable, VrsError
from vrs.security.redact import redact_text, redact_uri
from vrs.settings import StoreSettings

# qdrant-client's own default when the URL names no port.
_DEFAULT_REST_PORT = 6333
# What qdrant-client raises when the server is down, refuses, or answers with an error.
CONNECTION_ERRORS = (ApiException, grpc.RpcError, httpx.HTTPError, OSError)
_MAX_DETAIL = 300


def endpoint(settings: StoreSettings) -> str:
    """'<url> via gRPC port N' or '<url> via REST port N', secrets removed.

    With prefer_grpc, qdrant-client talks to VRS_QDRANT_GRPC_PORT whatever port the URL
    names (the URL's port is the REST one), so the port actually dialled is spelled out.
    """
    url = settings.url or ""
    if settings.prefer_grpc:
        return f"{redact_uri(url)} via gRPC port {settings.grpc_port}"
    try:
        port = urlsplit(url).port or _DEFAULT_REST_PORT
    except ValueError:
        return f"{redact_uri(url)} via REST"
    return f"{redact_uri(url)} via REST port {port}"


def as_domain_error(exc: BaseException, where: str) -> VrsError:
    """A qdrant-client failure as Unavailable, or ConfigurationError for a refused API key."""
    if isinstance(exc, grpc.RpcError):
        code = exc.code() if isinstance(exc, grpc.Call) else None
        if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
            return _refused_key(where)
    if isinstance(exc, UnexpectedResponse) and exc.status_code in (401, 403):
        return _refused_key(where)
    return Unavailable("Qdrant", f"{where}: {failure_detail(exc)}")


def failure_detail(exc: BaseException) -> str:
    """What a qdrant-client call failed with, on one line, secrets removed."""
    if isinstance(exc, grpc.RpcError):
        code = exc.code() if isinstance(exc, grpc.Call) else None
        details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
        return f"{_name(code)}: {_one_line(details or '')}"
    return f"{type(exc).__name__}: {_one_line(str(exc))}"


@contextmanager
def qdrant_errors(settings: StoreSettings) -> Iterator[None]:
    """Turns connection failures inside the block into domain errors naming the endpoint."""
    try:
        yield
    except CONNECTION_ERRORS as exc:
        raise as_domain_error(exc, endpoint(settings)) from exc


def _refused_key(where: str) -> ConfigurationError:
    return ConfigurationError(f"Qdrant at {where} refused the API key (VRS_QDRANT_API_KEY)")


def _name(code: grpc.StatusCode | None) -> str:
    return code.name if code is not None else "error"


def _one_line(text: str) -> str:
    flat = redact_text(" ".join(text.split()))
    return flat if len(flat) <= _MAX_DETAIL else flat[: _MAX_DETAIL - 3] + "..."
