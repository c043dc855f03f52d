"""The syntax of a host allow-list entry (VRS_IMAGE_HTTP_ALLOWED_HOSTS): host, host:port,
[IPv6] or [IPv6]:port."""

from __future__ import annotations

import re

# A DNS name or IPv4 address, or an IPv6 address in brackets; then an optional port.
_ENTRY = re.compile(
    r"(?:\[(?P<v6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9_][a-z0-9_.\-]*))(?::(?P<port>[0-9]{1,5}))?"
)


def parse_entry(entry: str) -> tuple[str, int | None]:
    """'host', 'host:port', '[v6]' or '[v6]:port' as (lower-case host, port or None).

    Raises ValueError naming the entry when it is none of these.
    """
    match = _ENTRY.fullmatch(entry.strip().lower())
    if match is None:
        raise ValueError(
            f"allowed host {entry!r} is not host, host:port or [IPv6]:port (e.g. img.example.com, "
            "img.example.com:8080, [::1]:8080)"
        )
    port = int(match["port"]) if match["port"] else None
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"allowed host {entry!r}: port {port} is not between 1 and 65535")
    return match["v6"] or match["name"], port


def format_entry(host: str, port: int | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None else f"{shown}:{port}"
