"""Domain errors to gRPC status codes, in one place for every service."""

from __future__ import annotations

import grpc

from vrs.errors import (
    ConfigurationError,
    InvalidInput,
    ModelMismatch,
    NotFound,
    Overloaded,
    Unavailable,
    VrsError,
)
from vrs.security.redact import redact_text
from vrs.v1 import common_pb2

_CODES: tuple[tuple[type[VrsError], grpc.StatusCode], ...] = (
    (InvalidInput, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (ModelMismatch, grpc.StatusCode.FAILED_PRECONDITION),
    (ConfigurationError, grpc.StatusCode.FAILED_PRECONDITION),
    (Unavailable, grpc.StatusCode.UNAVAILABLE),
    (Overloaded, grpc.StatusCode.RESOURCE_EXHAUSTED),
)


def status_code(error: VrsError) -> grpc.StatusCode:
    for kind, code in _CODES:
        if isinstance(error, kind):
            return code
    return grpc.StatusCode.INTERNAL


def item_error(error: VrsError) -> common_pb2.ItemError:
    """The per-item form of an error, for batch responses."""
    code = status_code(error).value[0]
    # A safety net: messages are written without secrets, but one echoing a URL must not leak.
    message = redact_text(str(error))
    return common_pb2.ItemError(code=common_pb2.Code.ValueType(code), message=message)


def error_from_status(code: grpc.StatusCode, message: str, dependency: str) -> VrsError:
    """A remote service's status back as the domain error it stands for (clients of vrs
    services); `dependency` names that service in an Unavailable."""
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return Unavailable(dependency, message)
    for kind, mapped in _CODES:
        if mapped == code and kind is not Unavailable:
            return kind(message)
    return VrsError(message)


def error_from_item(error: common_pb2.ItemError, dependency: str) -> VrsError:
    """Back from the per-item form (clients of a batch RPC)."""
    return error_from_status(status_of_item(error), error.message, dependency)


def status_of_item(error: common_pb2.ItemError) -> grpc.StatusCode:
    for code in grpc.StatusCode:
        if code.value[0] == error.code:
            return code
    return grpc.StatusCode.UNKNOWN
