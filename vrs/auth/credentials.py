"""What a call presents: a bearer token in its metadata, or a verified client certificate."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

AUTHORIZATION = "authorization"
_SCHEME = "bearer"
# Far above any token vrs makes; bounds the work an abusive header can cause.
_MAX_TOKEN_CHARS = 512


class MalformedAuthorization(ValueError):
    """Authorization metadata that is not one `Bearer <token>`; the message never quotes it."""


@dataclass(frozen=True)
class CertificateIdentity:
    """The subject of a client certificate the TLS handshake verified."""

    subject: str | None
    common_name: str | None

    @property
    def display_name(self) -> str:
        return f"CN={self.common_name}" if self.common_name else self.subject or "?"


def bearer_token(metadata: Iterable[Any] | None) -> str | None:
    """The token of the call's `authorization: Bearer <token>` metadata; None without one."""
    found: Any = None
    for item in metadata or ():
        if _key(item) == AUTHORIZATION:
            if found is not None:
                raise MalformedAuthorization("more than one authorization metadata entry")
            found = item
    if found is None:
        return None
    value = _value(found)
    if isinstance(value, bytes):
        raise MalformedAuthorization("the authorization metadata is not 'Bearer <token>'")
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    # Stripped and not empty: one word unless it holds whitespace (str.split() splits on
    # exactly what str.isspace() calls whitespace).
    if scheme.lower() != _SCHEME or len(token.split()) != 1:
        raise MalformedAuthorization("the authorization metadata is not 'Bearer <token>'")
    if len(token) > _MAX_TOKEN_CHARS:
        raise MalformedAuthorization(f"a bearer token is at most {_MAX_TOKEN_CHARS} characters")
    return token


def certificate_identity(auth_context: Mapping[str, Iterable[bytes]]) -> CertificateIdentity | None:
    """Who the verified client certificate names; None when the call has none (plaintext,
    or TLS without a client certificate)."""
    subject = _first(auth_context.get("x509_subject"))
    common_name = _first(auth_context.get("x509_common_name"))
    if subject is None and common_name is None:
        return None
    return CertificateIdentity(subject, common_name)


def _first(values: Iterable[bytes] | None) -> str | None:
    for value in values or ():
        text = value.decode("utf-8", "replace").strip()
        if text:
            return text
    return None


def _key(item: Any) -> str:
    key = item[0] if isinstance(item, tuple) else getattr(item, "key", "")
    # HTTP/2 and gRPC send keys in lower case already: lower() only when they are not.
    return key if type(key) is str and key.islower() else str(key).lower()


def _value(item: Any) -> str | bytes:
    value = item[1] if isinstance(item, tuple) else getattr(item, "value", "")
    return value if isinstance(value, str | bytes) else str(value)
