"""The Qdrant server client: https with the API key and the CA to trust, and no API key over
http:// to another host unless opted in.

No Qdrant server runs here, so the client is inspected as qdrant-client built it, before it
connects (it connects lazily, and vrs turns its background version check off): what scheme,
headers and certificates it would use. The addresses are only strings; nothing is sent.
"""

from __future__ import annotations

import logging
import re
import ssl
import warnings
from pathlib import Path

import pytest
from pydantic import SecretStr
from qdrant_client import QdrantClient
from qdrant_client.qdrant_remote import QdrantRemote

from tests.support.certs import CertificateAuthority
from vrs.errors import ConfigurationError
from vrs.settings import StoreSettings
from vrs.store.qdrant_connection import new_client
from vrs.store.qdrant_server_store import connect

API_KEY = "qdrant-api-s3cret"
FAR = "10.255.255.1"


def remote(client: QdrantClient) -> QdrantRemote:
    inner = client._client
    assert isinstance(inner, QdrantRemote)
    return inner


def settings(url: str, **overrides: object) -> StoreSettings:
    values: dict[str, object] = {"url": url, "api_key": SecretStr(API_KEY), **overrides}
    return StoreSettings.model_validate(values)


@pytest.mark.parametrize("prefer_grpc", [True, False])
def test_https_url_makes_a_tls_client_sending_the_api_key(prefer_grpc: bool) -> None:
    client = new_client(settings("https://qdrant.vrs.svc:6333", prefer_grpc=prefer_grpc))
    try:
        inner = remote(client)
        assert inner._https is True, "gRPC and REST both over TLS"
        assert inner.rest_uri.startswith("https://qdrant.vrs.svc:6333")
        assert inner._rest_headers["api-key"] == API_KEY
        assert ("api-key", API_KEY) in inner._grpc_headers
    finally:
        client.close()


def test_the_ca_file_is_trusted_by_rest_and_grpc(tmp_path: Path) -> None:
    ca = CertificateAuthority.create(tmp_path, "qdrant test CA")
    client = new_client(settings("https://qdrant.vrs.svc:6333", tls_ca_file=ca.cert_file))
    try:
        inner = remote(client)
        verify = inner._rest_args["verify"]
        assert isinstance(verify, ssl.SSLContext)
        assert verify.verify_mode == ssl.CERT_REQUIRED and verify.check_hostname
        assert any("qdrant test CA" in str(c["subject"]) for c in verify.get_ca_certs())
        assert inner._grpc_options["root_certificates"] == ca.cert_pem
    finally:
        client.close()


def test_api_key_over_http_to_another_host_is_refused_naming_the_settings() -> None:
    with pytest.raises(ConfigurationError) as refused:
        connect(settings(f"http://{FAR}:6333"))
    message = str(refused.value)
    assert "VRS_QDRANT_URL" in message and "https://" in message
    assert "VRS_QDRANT_ALLOW_PLAINTEXT_SECRETS=true" in message
    assert API_KEY not in message


def test_opted_in_api_key_over_http_is_allowed_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="vrs.security.plaintext_secrets")
    with warnings.catch_warnings():
        # qdrant-client's own "insecure connection" warning; ours is the one under test.
        warnings.simplefilter("ignore", UserWarning)
        client = new_client(settings(f"http://{FAR}:6334", allow_plaintext_secrets=True))
    try:
        assert remote(client)._https is False
        [record] = [r for r in caplog.records if r.name == "vrs.security.plaintext_secrets"]
        assert "VRS_QDRANT_ALLOW_PLAINTEXT_SECRETS" in record.getMessage()
        assert API_KEY not in caplog.text
    finally:
        client.close()


def test_api_key_over_http_to_loopback_is_allowed() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        client = new_client(settings("http://127.0.0.1:6333"))
    client.close()


def test_a_ca_file_with_an_http_url_is_refused(tmp_path: Path) -> None:
    ca = CertificateAuthority.create(tmp_path, "qdrant test CA")
    with pytest.raises(ConfigurationError, match=r"VRS_QDRANT_TLS_CA_FILE.*https://"):
        new_client(StoreSettings(url="http://127.0.0.1:6333", tls_ca_file=ca.cert_file))


def test_a_ca_file_that_is_not_pem_is_refused_naming_it(tmp_path: Path) -> None:
    bogus = tmp_path / "ca.crt"
    bogus.write_bytes(b"\x00\xffnot a certificate")
    with pytest.raises(ConfigurationError, match=re.escape(f"VRS_QDRANT_TLS_CA_FILE {bogus}")):
        new_client(settings("https://qdrant.vrs.svc:6333", tls_ca_file=bogus))
