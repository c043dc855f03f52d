"""Image URIs parsed strictly: every malformation is UriRefused, with a message naming it."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from vrs.errors import UriRefused
from vrs.security.redact import redact_uri


@dataclass(frozen=True)
class ImageUri:
    """A parsed image URI; `shown` is the form safe for messages (no userinfo, no query values)."""

    raw: str
    shown: str
    scheme: str
    netloc: str
    host: str
    port: int | None
    path: str


def parse_image_uri(uri: str) -> ImageUri:
    shown = redact_uri(uri)
    # urlsplit silently drops tabs and newlines, so what it parses is not what was sent.
    if not all(c.isprintable() for c in uri):
        raise UriRefused(f"image URI {shown!r} contains a control or non-printable character")
    try:
        parts = urlsplit(uri)
    except ValueError as exc:
        # The ValueError's own text can echo the authority, userinfo included.
        raise UriRefused(
            f"image URI {shown!r} is malformed: its host cannot be parsed "
            "(unbalanced [ ] around an IPv6 address, or an invalid character)"
        ) from exc
    if any(c.isspace() for c in parts.netloc):
        raise UriRefused(f"image URI {shown!r}: the host contains whitespace")
    try:
        port = parts.port
    except ValueError as exc:
        raise UriRefused(
            f"image URI {shown!r}: the port is not a number between 1 and 65535"
        ) from exc
    if port == 0:
        raise UriRefused(f"image URI {shown!r}: the port is not a number between 1 and 65535")
    return ImageUri(
        raw=uri,
        shown=shown,
        scheme=parts.scheme.lower(),
        netloc=parts.netloc,
        host=(parts.hostname or "").lower(),
        port=port,
        path=parts.path,
    )
