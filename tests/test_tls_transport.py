"""TLS and mutual TLS on vrs gRPC servers and clients, with certificates made at test time:
what is refused (plaintext, another CA, expired, no client certificate) and what works."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import grpc
import pytest
from pydantic import SecretStr

from services.cli.main import main
from tests.support.certs import CertificateAuthority
from tests.support.tls_env import (
    PLAINTEXT,
    address,
    bare_server,
    client_tls,
    health_check,
    make_pki,
    refused_code,
    server_tls,
    serving,
)
from vrs.errors import ConfigurationError
from vrs.rpc.client import open_channel
from vrs.settings import ClientSettings


async def test_a_tls_server_answers_a_client_trusting_its_ca(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    async with bare_server(**server_tls(pki)) as server:
        assert await health_check(server, client_tls(pki.ca)) == "SERVING"


async def test_a_plaintext_client_is_refused_by_a_tls_server(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    async with bare_server(**server_tls(pki)) as server:
        assert await refused_code(server, PLAINTEXT) == grpc.StatusCode.UNAVAILABLE


async def test_a_client_trusting_another_ca_refuses_the_server(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    other = CertificateAuthority.create(tmp_path, "some other CA")
    async with bare_server(**server_tls(pki)) as server:
        assert await refused_code(server, client_tls(other)) == grpc.StatusCode.UNAVAILABLE


async def test_an_expired_server_certificate_is_refused(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    expired = pki.ca.issue_server("expired", expired=True)
    async with bare_server(**serving(expired)) as server:
        assert await refused_code(server, client_tls(pki.ca)) == grpc.StatusCode.UNAVAILABLE


async def test_mutual_tls_refuses_a_client_without_a_certificate(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    async with bare_server(**server_tls(pki, mutual=True)) as server:
        assert await refused_code(server, client_tls(pki.ca)) == grpc.StatusCode.UNAVAILABLE


async def test_mutual_tls_refuses_a_client_certificate_from_another_ca(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    stranger = CertificateAuthority.create(tmp_path, "some other CA").issue_client("search-svc")
    async with bare_server(**server_tls(pki, mutual=True)) as server:
        code = await refused_code(server, client_tls(pki.ca, stranger))
    assert code == grpc.StatusCode.UNAVAILABLE


async def test_mutual_tls_refuses_an_expired_client_certificate(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    expired = pki.ca.issue_client("search-svc", expired=True)
    async with bare_server(**server_tls(pki, mutual=True)) as server:
        code = await refused_code(server, client_tls(pki.ca, expired))
    assert code == grpc.StatusCode.UNAVAILABLE


async def test_mutual_tls_admits_a_client_with_a_valid_certificate(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    async with bare_server(**server_tls(pki, mutual=True)) as server:
        assert await health_check(server, client_tls(pki.ca, pki.client)) == "SERVING"


async def test_the_server_name_override_checks_another_name_in_the_certificate(
    tmp_path: Path,
) -> None:
    ca = CertificateAuthority.create(tmp_path)
    named = ca.issue_server("embedder", hosts=("embedder.vrs.svc",))
    async with bare_server(**serving(named)) as server:
        assert await refused_code(server, client_tls(ca)) == grpc.StatusCode.UNAVAILABLE
        overridden = client_tls(ca, tls_server_name="embedder.vrs.svc")
        assert await health_check(server, overridden) == "SERVING"


async def test_a_key_that_does_not_match_the_certificate_refuses_the_start(
    tmp_path: Path,
) -> None:
    pki = make_pki(tmp_path)
    other = pki.ca.issue_server("other")
    fields = serving(pki.server) | {"tls_key_file": other.key_file}
    with pytest.raises(ConfigurationError, match="VRS_GRPC_TLS_KEY_FILE"):
        async with bare_server(**fields):
            pass


async def test_a_certificate_without_its_key_refuses_the_start_naming_the_setting(
    tmp_path: Path,
) -> None:
    pki = make_pki(tmp_path)
    with pytest.raises(ConfigurationError, match="VRS_GRPC_TLS_KEY_FILE is not set"):
        async with bare_server(tls_cert_file=pki.server.cert_file):
            pass


def test_an_unreadable_client_ca_file_names_its_setting(tmp_path: Path) -> None:
    settings = ClientSettings.model_validate({"tls_ca_file": tmp_path / "missing.crt"})
    with pytest.raises(ConfigurationError, match=r"VRS_CLIENT_TLS_CA_FILE: cannot read"):
        open_channel("127.0.0.1:1", settings, aio=False)


def test_a_token_is_never_sent_in_plaintext_to_another_machine() -> None:
    settings = ClientSettings.model_validate({"token": SecretStr("s3cret-token-value")})
    with pytest.raises(ConfigurationError, match="VRS_CLIENT_TLS_CA_FILE") as refused:
        open_channel("10.1.2.3:50051", settings, aio=False)
    assert "s3cret-token-value" not in str(refused.value)


async def test_the_cli_reaches_a_mutual_tls_server_with_its_tls_flags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pki = make_pki(tmp_path)
    flags = [
        "--tls-ca",
        str(pki.ca.cert_file),
        "--tls-cert",
        str(pki.client.cert_file),
        "--tls-key",
        str(pki.client.key_file),
    ]
    async with bare_server(**server_tls(pki, mutual=True)) as server:
        code = await asyncio.to_thread(main, ["--address", address(server), *flags, "health"])
    assert code == 0
    assert "SERVING" in capsys.readouterr().out


async def test_the_cli_without_tls_flags_cannot_reach_a_tls_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TLS_CA_FILE", "TLS_CERT_FILE", "TLS_KEY_FILE", "TOKEN"):
        monkeypatch.delenv(f"VRS_CLIENT_{name}", raising=False)
    pki = make_pki(tmp_path)
    async with bare_server(**server_tls(pki)) as server:
        code = await asyncio.to_thread(main, ["--address", address(server), "health"])
    assert code == 1
    err = capsys.readouterr().err
    assert "UNAVAILABLE" in err
    assert "give --tls-ca" in err


async def test_the_cli_without_a_client_certificate_is_told_which_flags_to_give(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TLS_CERT_FILE", "TLS_KEY_FILE", "TOKEN"):
        monkeypatch.delenv(f"VRS_CLIENT_{name}", raising=False)
    pki = make_pki(tmp_path)
    argv = ["--tls-ca", str(pki.ca.cert_file), "stats"]
    async with bare_server(**server_tls(pki, mutual=True)) as server:
        code = await asyncio.to_thread(main, ["--address", address(server), *argv])
    assert code == 1
    err = capsys.readouterr().err
    assert "cannot reach vrs" in err
    assert "give --tls-cert and --tls-key" in err


async def test_tls_logs_and_errors_never_show_key_material(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pki = make_pki(tmp_path)
    key_body = pki.server.key_pem.decode().splitlines()[1]
    wrong_key = serving(pki.server) | {"tls_key_file": pki.client.key_file}
    with caplog.at_level(logging.DEBUG):
        async with bare_server(**server_tls(pki, mutual=True)) as server:
            assert server.tls is not None
            pki.server.key_file.write_bytes(pki.client.key_pem)  # a broken rotation
            await asyncio.to_thread(server.tls.reload_if_changed)
        with pytest.raises(ConfigurationError) as refused:
            async with bare_server(**wrong_key):
                pass
    logged = caplog.text + " ".join(str(vars(r)) for r in caplog.records)
    for shown in (logged, str(refused.value)):
        assert "PRIVATE KEY" not in shown
        assert key_body not in shown
        assert pki.client.key_pem.decode().splitlines()[1] not in shown
