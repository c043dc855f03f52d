"""How the CLI reaches a server: TLS flags over the VRS_CLIENT_* settings."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from vrs.settings import ClientSettings

# flag dest -> ClientSettings field (and VRS_CLIENT_<FIELD> env var)
_FLAGS = {
    "tls_ca": "tls_ca_file",
    "tls_cert": "tls_cert_file",
    "tls_key": "tls_key_file",
    "tls_server_name": "tls_server_name",
}


def add_connection_flags(parser: argparse.ArgumentParser) -> None:
    """--tls-ca, --tls-cert, --tls-key, --tls-server-name; each defaults to its VRS_CLIENT_*."""
    group = parser.add_argument_group("connection (default: the VRS_CLIENT_* variables)")
    group.add_argument(
        "--tls-ca",
        type=Path,
        metavar="FILE",
        help="CA that signed the server certificate: connect over TLS ($VRS_CLIENT_TLS_CA_FILE)",
    )
    group.add_argument(
        "--tls-cert",
        type=Path,
        metavar="FILE",
        help="client certificate for mutual TLS ($VRS_CLIENT_TLS_CERT_FILE)",
    )
    group.add_argument(
        "--tls-key", type=Path, metavar="FILE", help="its private key ($VRS_CLIENT_TLS_KEY_FILE)"
    )
    group.add_argument(
        "--tls-server-name",
        metavar="NAME",
        help="name to check in the server certificate instead of the address's host "
        "($VRS_CLIENT_TLS_SERVER_NAME)",
    )


def client_settings(args: argparse.Namespace) -> ClientSettings:
    """VRS_CLIENT_* from the environment, overridden by the flags given (a `token` flag
    included, when the parser has one)."""
    overrides: dict[str, Any] = {field: getattr(args, dest, None) for dest, field in _FLAGS.items()}
    overrides["token"] = getattr(args, "token", None)
    return ClientSettings(**{k: v for k, v in overrides.items() if v is not None})


def unreachable_hint(details: str, settings: ClientSettings) -> str:
    """What to check when a connection failed: gRPC reports a TLS refusal by the server as a
    bare "Socket closed", which names no setting."""
    if "failed to connect" not in details:
        return ""
    if "handshake" in details.lower():
        return (
            " (the server's certificate is not signed by the --tls-ca CA, has expired, or does "
            "not name this host: see --tls-server-name)"
        )
    if "socket closed" not in details.lower():
        return ""  # refused, unresolvable, timed out: nothing TLS about it
    if settings.tls_ca_file is None:
        return " (if the server uses TLS: give --tls-ca, or set VRS_CLIENT_TLS_CA_FILE)"
    if settings.tls_cert_file is None:
        return (
            " (if the server requires client certificates: give --tls-cert and --tls-key, or "
            "set VRS_CLIENT_TLS_CERT_FILE and VRS_CLIENT_TLS_KEY_FILE)"
        )
    return " (did the server refuse the client certificate: expired, or not signed by its CA?)"
