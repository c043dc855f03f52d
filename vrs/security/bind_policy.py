"""Secure by default: a server reachable from the network needs TLS and authentication."""

from __future__ import annotations

import ipaddress
import logging

from vrs.errors import ConfigurationError
from vrs.settings import AuthSettings, ServerSettings

log = logging.getLogger(__name__)

_TLS = "TLS (VRS_GRPC_TLS_CERT_FILE and VRS_GRPC_TLS_KEY_FILE)"
_AUTH = "authentication (VRS_AUTH_TOKENS_FILE or VRS_GRPC_TLS_CLIENT_CA_FILE)"


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach; hostnames other than localhost are
    not trusted to resolve to loopback."""
    host = host.strip().removeprefix("[").removesuffix("]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def missing_protection(server: ServerSettings, auth: AuthSettings | None) -> list[str]:
    """What a server listening on server.host lacks to be safe on a shared network."""
    if is_loopback(server.host):
        return []
    missing = []
    if server.tls_cert_file is None or server.tls_key_file is None:
        missing.append(_TLS)
    tokens = auth is not None and auth.tokens_file is not None
    if not tokens and server.tls_client_ca_file is None:
        missing.append(_AUTH)
    return missing


def check_bind(server: ServerSettings, auth: AuthSettings | None, *, warn: bool = True) -> None:
    """Refuses a non-loopback listen address without TLS and authentication, unless
    VRS_GRPC_INSECURE is on (then warns, when `warn`)."""
    missing = missing_protection(server, auth)
    if not missing:
        return
    address = f"{server.host}:{server.port}"
    lacking = " and ".join(missing)
    if server.insecure:
        if warn:
            risks = []
            if _AUTH in missing:
                risks.append("whoever reaches this port can call every RPC")
            if _TLS in missing:
                risks.append("calls and credentials travel in plaintext")
            log.warning(
                "listening on %s without %s because VRS_GRPC_INSECURE is on: %s",
                address,
                lacking,
                "; ".join(risks),
            )
        return
    raise ConfigurationError(
        f"refusing to listen on {address} (not loopback) without {lacking}: set them, or "
        "listen on loopback (VRS_GRPC_HOST=127.0.0.1), or set VRS_GRPC_INSECURE=true on a "
        "trusted network"
    )


def check_http_bind(
    what: str,
    host: str,
    port: int,
    *,
    https: bool,
    offload_setting: str,
    offloaded: bool,
    insecure: bool,
) -> None:
    """Refuses plain HTTP beyond loopback unless `offload_setting` says TLS ends in front of
    the listener (an Ingress, a proxy) or VRS_GRPC_INSECURE is on (then warns): bearer tokens
    and photos must not cross a network in plaintext."""
    if https or is_loopback(host) or offloaded:
        return
    address = f"{host}:{port}"
    if insecure:
        log.warning(
            "%s on %s over plain HTTP because VRS_GRPC_INSECURE is on: requests, tokens and "
            "answers travel in plaintext",
            what,
            address,
        )
        return
    raise ConfigurationError(
        f"refusing to serve the {what} over plain HTTP on {address} (not loopback): set "
        f"{_TLS} to serve HTTPS, or {offload_setting}=true when TLS ends in front of it (an "
        "Ingress or proxy), or listen on loopback, or set VRS_GRPC_INSECURE=true on a trusted "
        "network"
    )
