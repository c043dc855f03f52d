"""Which host and port pairs http(s) image URIs may reach."""

from __future__ import annotations

from collections.abc import Iterable

from vrs.settings.host_entries import parse_entry

DEFAULT_PORTS = {"http": 80, "https": 443}


class HostAllowList:
    """Entries without a port allow the scheme's default port only (80 http, 443 https)."""

    def __init__(self, entries: Iterable[str]) -> None:
        parsed = [parse_entry(e) for e in entries]
        self._default_port_hosts = frozenset(host for host, port in parsed if port is None)
        self._host_ports = frozenset((host, port) for host, port in parsed if port is not None)

    def allows(self, scheme: str, host: str, port: int | None) -> bool:
        """`port` None: the URI names none, so the scheme's default applies."""
        default = DEFAULT_PORTS[scheme]
        effective = default if port is None else port
        if (host, effective) in self._host_ports:
            return True
        return effective == default and host in self._default_port_hosts
