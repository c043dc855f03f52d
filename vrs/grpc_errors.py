"""Domain errors to gRPC status codes, in one place for every service."""

from __future__ import annotations

import grpc

from vrs.errors import (
    ConfigurationError,
    InvalidInput,
    ModelMismatch,
    NotFound,
    Unavailable,
    VrsError,
)
from vrs.v1 import common_pb2

_CODES: tuple[tuple[type[VrsError], grpc.StatusCode], ...] = (
    (InvalidInput, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (ModelMismatch, grpc.StatusCode.FAILED_PRECONDITION),
    (ConfigurationError, grpc.StatusCode.FAILED_PRECONDITION),
    (Unavailable, grpc.StatusCode.UNAVAILABLE),
)


def status_code(error: VrsError) -> grpc.StatusCode:
    for kind, code in _CODES:
        if isinstance(error, kind):
            return code
    return grpc.StatusCode.INTERNAL


def item_error(error: VrsError) -> common_pb2.ItemError:
    """The per-item form of an error, for batch responses."""
    code = status_code(error).value[0]
    return common_pb2.ItemError(code=common_pb2.Code.ValueType(code), message=str(error))


def error_from_item(error: common_pb2.ItemError) -> VrsError:
    """Back from the per-item form (clients of a batch RPC)."""
    for kind, code in _CODES:
        if code.value[0] == error.code:
            return (
                kind(error.message)
                if kind is not Unavailable
                else Unavailable("embedder", error.message)
            )
    return VrsError(error.message)


def status_of_item(error: common_pb2.ItemError) -> grpc.StatusCode:
    for code in grpc.StatusCode:
        if code.value[0] == error.code:
            return code
    return grpc.StatusCode.UNKNOWN
