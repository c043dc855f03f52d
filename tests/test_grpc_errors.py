"""Domain errors to gRPC status codes and back, in the one place that maps them."""

from __future__ import annotations

import grpc
import pytest

from vrs.errors import (
    ConfigurationError,
    InvalidImage,
    InvalidInput,
    InvalidProduct,
    InvalidVector,
    ModelMismatch,
    NotFound,
    Overloaded,
    Unavailable,
    UriRefused,
    VrsError,
)
from vrs.rpc.status import error_from_item, error_from_status, item_error, status_code

Code = grpc.StatusCode

# Every domain error a server raises, and the status a client sees.
TO_STATUS: tuple[tuple[VrsError, Code], ...] = (
    (InvalidInput("bad"), Code.INVALID_ARGUMENT),
    (InvalidImage("not an image"), Code.INVALID_ARGUMENT),
    (InvalidVector("dimension 3"), Code.INVALID_ARGUMENT),
    (InvalidProduct("no id"), Code.INVALID_ARGUMENT),
    (UriRefused("scheme ftp"), Code.INVALID_ARGUMENT),
    (NotFound("no such product"), Code.NOT_FOUND),
    (ModelMismatch("another model"), Code.FAILED_PRECONDITION),
    (ConfigurationError("settings clash"), Code.FAILED_PRECONDITION),
    (Unavailable("Qdrant", "connection refused"), Code.UNAVAILABLE),
    (Overloaded("queue is full"), Code.RESOURCE_EXHAUSTED),
    (VrsError("a bug"), Code.INTERNAL),
)

# Every status a remote vrs service may answer with, and the domain error a client raises.
FROM_STATUS: tuple[tuple[Code, type[VrsError]], ...] = (
    (Code.INVALID_ARGUMENT, InvalidInput),
    (Code.NOT_FOUND, NotFound),
    # Between vrs services a failed precondition is a vector of another model.
    (Code.FAILED_PRECONDITION, ModelMismatch),
    (Code.UNAVAILABLE, Unavailable),
    (Code.DEADLINE_EXCEEDED, Unavailable),
    (Code.RESOURCE_EXHAUSTED, Overloaded),
    (Code.INTERNAL, VrsError),
    (Code.UNKNOWN, VrsError),
)


@pytest.mark.parametrize(("error", "code"), TO_STATUS, ids=[type(e).__name__ for e, _ in TO_STATUS])
def test_each_domain_error_has_its_status(error: VrsError, code: Code) -> None:
    assert status_code(error) == code


@pytest.mark.parametrize(("code", "kind"), FROM_STATUS, ids=[c.name for c, _ in FROM_STATUS])
def test_each_status_comes_back_as_its_domain_error(code: Code, kind: type[VrsError]) -> None:
    error = error_from_status(code, "what went wrong", "search-embedder")
    assert type(error) is kind
    assert "what went wrong" in str(error)


@pytest.mark.parametrize("code", [Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED])
def test_an_unavailable_status_names_the_dependency_the_caller_gave(code: Code) -> None:
    error = error_from_status(code, "connection refused", "image-host")
    assert isinstance(error, Unavailable)
    assert error.dependency == "image-host"


@pytest.mark.parametrize(("error", "code"), TO_STATUS, ids=[type(e).__name__ for e, _ in TO_STATUS])
def test_an_item_error_round_trips_to_the_same_status_and_message(
    error: VrsError, code: Code
) -> None:
    item = item_error(error)
    back = error_from_item(item, "embedder")
    assert item.code == code.value[0]
    assert status_code(back) == code
    assert str(error) in str(back)
