"""The qdrant-client a server-mode store talks through: https with the API key, the CA to trust,
and no API key in plaintext to another host unless asked for."""

from __future__ import annotations

import ssl
from typing import Any

from qdrant_client import QdrantClient

from vrs.errors import ConfigurationError
from vrs.security.plaintext_secrets import QDRANT, refuse_plaintext_secret
from vrs.security.redact import redact_text, redact_uri
from vrs.settings import StoreSettings


def new_client(settings: StoreSettings) -> QdrantClient:
    """A client for settings.url that has not connected yet.

    ConfigurationError, before anything is sent, for an API key over http:// to a non-loopback
    host (unless VRS_QDRANT_ALLOW_PLAINTEXT_SECRETS), a CA file without https:// or one that
    cannot be read, and a URL qdrant-client cannot use.
    """
    url = settings.url or ""
    api_key = settings.api_key.get_secret_value() if settings.api_key else None
    refuse_plaintext_secret(url, bool(api_key), settings.allow_plaintext_secrets, QDRANT)
    try:
        return QdrantClient(
            url=url,
            api_key=api_key,
            prefer_grpc=settings.prefer_grpc,
            grpc_port=settings.grpc_port,
            timeout=int(max(1, settings.timeout_s)),
            # Its version check is a second REST call, in a background thread, that ignores
            # the CA below; connect()'s first call is the check that counts.
            check_compatibility=False,
            **_tls_options(url, settings),
        )
    except ValueError as exc:  # qdrant-client's word for a URL it cannot use
        raise ConfigurationError(
            f"VRS_QDRANT_URL: cannot use {redact_uri(url)}: {redact_text(str(exc))}"
        ) from exc


def _tls_options(url: str, settings: StoreSettings) -> dict[str, Any]:
    """The CA for REST (httpx's verify) and gRPC (root certificates) when one is set."""
    ca_file = settings.tls_ca_file
    if ca_file is None:
        return {}
    if url.partition("://")[0].strip().lower() != "https":
        raise ConfigurationError(
            f"VRS_QDRANT_TLS_CA_FILE is set, but VRS_QDRANT_URL {redact_uri(url)} is not "
            "https://: use an https:// URL for TLS"
        )
    try:
        roots = ca_file.read_bytes()
        context = ssl.create_default_context(cadata=roots.decode("ascii"))
    except (OSError, ValueError, ssl.SSLError) as exc:
        raise ConfigurationError(
            f"VRS_QDRANT_TLS_CA_FILE {ca_file}: not a readable PEM CA bundle "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    return {"verify": context, "grpc_options": {"root_certificates": roots}}
