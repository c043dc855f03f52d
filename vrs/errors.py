"""The domain's exception hierarchy.

Servers translate these to gRPC status codes in one place (vrs.rpc.status); domain code
raises them and never deals with gRPC.
"""

from __future__ import annotations


class VrsError(Exception):
    """Base of every error the domain raises on purpose."""


class InvalidInput(VrsError):
    """The caller sent something unusable; the message names the problem."""


class InvalidImage(InvalidInput):
    """Bytes that are empty, corrupt, too large or not an image."""


class InvalidVector(InvalidInput):
    """A vector of the wrong dimension, with NaN/inf, or from another model."""


class InvalidProduct(InvalidInput):
    """Missing product id, negative or NaN price, and the like."""


class UriRefused(InvalidInput):
    """An image URI with a refused scheme, host or path."""


class NotFound(VrsError):
    """A product or resource that does not exist."""


class ModelMismatch(VrsError):
    """Vectors of one model meeting a collection of another."""


class Unavailable(VrsError):
    """A dependency (embedder, Qdrant, image host) cannot be reached or did not answer in time."""

    def __init__(self, dependency: str, detail: str) -> None:
        super().__init__(f"{dependency} unavailable: {detail}")
        self.dependency = dependency


class Overloaded(VrsError):
    """Too much work is queued already; the caller should back off and retry later."""


class WeightsUnavailable(VrsError):
    """Model weights could not be loaded; raised at startup, never swallowed."""


class ConfigurationError(VrsError):
    """Settings that cannot work together."""
