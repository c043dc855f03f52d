"""Secure by default: a server that would listen on a non-loopback address without TLS and
authentication refuses to start and says which settings to set, unless VRS_GRPC_INSECURE."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.support.serve_process import error_lines, refused_start, serve_env
from vrs.errors import ConfigurationError
from vrs.security.bind_policy import check_bind
from vrs.settings import AuthSettings, ServerSettings


def server(**fields: object) -> ServerSettings:
    return ServerSettings.model_validate({"port": 50051, **fields})


NO_AUTH = AuthSettings.model_validate({})


def test_vrs_serve_refuses_a_non_loopback_bind_without_tls_and_auth(tmp_path: Path) -> None:
    result = refused_start(serve_env(tmp_path, VRS_GRPC_HOST="0.0.0.0"))
    assert result.returncode == 2
    [line] = error_lines(result)
    assert "cannot start" in line
    assert "0.0.0.0:" in line
    for setting in ("VRS_GRPC_TLS_CERT_FILE", "VRS_AUTH_TOKENS_FILE", "VRS_GRPC_INSECURE"):
        assert setting in line


def test_the_default_bind_is_loopback_and_needs_nothing() -> None:
    assert ServerSettings.model_fields["host"].default == "127.0.0.1"
    check_bind(server(), NO_AUTH)


def test_tls_without_authentication_is_refused_naming_the_auth_settings(tmp_path: Path) -> None:
    tls = {"tls_cert_file": tmp_path / "tls.crt", "tls_key_file": tmp_path / "tls.key"}
    with pytest.raises(ConfigurationError) as refused:
        check_bind(server(host="0.0.0.0", **tls), NO_AUTH)
    assert "VRS_AUTH_TOKENS_FILE or VRS_GRPC_TLS_CLIENT_CA_FILE" in str(refused.value)
    assert "VRS_GRPC_TLS_CERT_FILE" not in str(refused.value)


def test_tokens_without_tls_are_refused_naming_the_tls_settings(tmp_path: Path) -> None:
    auth = AuthSettings.model_validate({"tokens_file": tmp_path / "tokens"})
    with pytest.raises(ConfigurationError) as refused:
        check_bind(server(host="0.0.0.0"), auth)
    assert "VRS_GRPC_TLS_CERT_FILE and VRS_GRPC_TLS_KEY_FILE" in str(refused.value)
    assert "VRS_AUTH_TOKENS_FILE" not in str(refused.value)


def test_tls_with_tokens_may_listen_on_any_address(tmp_path: Path) -> None:
    tls = {"tls_cert_file": tmp_path / "tls.crt", "tls_key_file": tmp_path / "tls.key"}
    auth = AuthSettings.model_validate({"tokens_file": tmp_path / "tokens"})
    check_bind(server(host="0.0.0.0", **tls), auth)
    check_bind(server(host="::", **tls), auth)


def test_mutual_tls_alone_counts_as_authentication(tmp_path: Path) -> None:
    tls = {
        "tls_cert_file": tmp_path / "tls.crt",
        "tls_key_file": tmp_path / "tls.key",
        "tls_client_ca_file": tmp_path / "ca.crt",
    }
    check_bind(server(host="10.0.0.5", **tls), NO_AUTH)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "[::]", "10.0.0.5", "vrs.example.com", ""])
def test_every_non_loopback_address_is_refused(host: str) -> None:
    with pytest.raises(ConfigurationError, match="not loopback"):
        check_bind(server(host=host), NO_AUTH)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_addresses_need_nothing(host: str) -> None:
    check_bind(server(host=host), NO_AUTH)


def test_the_insecure_setting_allows_a_non_loopback_bind_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="vrs.security.bind_policy"):
        check_bind(server(host="0.0.0.0", insecure=True), NO_AUTH)
    [warning] = caplog.records
    assert warning.levelno == logging.WARNING
    message = warning.getMessage()
    assert "VRS_GRPC_INSECURE" in message
    assert "whoever reaches this port can call every RPC" in message
    assert "plaintext" in message
