"""The gateway and /metrics serve HTTPS from the gRPC server's certificate files, re-read when
they change; plain HTTP beyond loopback only where TLS is declared to end in front."""

from __future__ import annotations

import asyncio
import ssl
import time
import urllib.request
from pathlib import Path

import pytest

from services.web.wiring import check_gateway_settings
from tests.support.http_listener import listener
from tests.support.tls_env import fingerprint_of, make_pki, served_fingerprint, serving
from vrs.errors import ConfigurationError
from vrs.listeners.http_server import HttpLimits
from vrs.observability.metrics.http import check_metrics_bind
from vrs.settings import (
    AuthSettings,
    ObservabilitySettings,
    ServerSettings,
    Settings,
    WebSettings,
)
from vrs.tls.server import HttpTls

LIMITS = HttpLimits(max_connections=16)
OPEN_METRICS: dict[str, object] = {"metrics_host": "0.0.0.0", "metrics_port": 9100}


async def test_the_listener_serves_https_and_follows_a_rotated_certificate(
    tmp_path: Path,
) -> None:
    pki = make_pki(tmp_path)
    tls = HttpTls.from_settings(ServerSettings(**serving(pki.server), tls_reload_s=0.1))
    assert tls is not None
    async with listener(LIMITS, tls) as server:
        assert server.url.startswith("https://")
        context = ssl.create_default_context(cafile=str(pki.ca.cert_file))
        body = await asyncio.to_thread(
            lambda: urllib.request.urlopen(f"{server.url}/hello", context=context).read()
        )
        assert body == b"hello"

        rotated = pki.ca.issue_server("rotated")
        rotated.copy_to(pki.server.cert_file, pki.server.key_file)
        deadline = time.monotonic() + 10
        while await asyncio.to_thread(served_fingerprint, server.port, pki.ca.cert_file) != (
            fingerprint_of(rotated)
        ):
            assert time.monotonic() < deadline, "the rotated certificate was not served"
            await asyncio.sleep(0.1)


async def test_a_tls_handshake_that_never_comes_frees_its_connection(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    tls = HttpTls.from_settings(ServerSettings(**serving(pki.server)))
    limits = HttpLimits(max_connections=1, head_timeout_s=0.3)
    async with listener(limits, tls) as server:
        silent = await asyncio.open_connection("127.0.0.1", server.port)
        await asyncio.sleep(1.0)  # its handshake times out: the only slot is free again
        assert server.open_connections == 0
        silent[1].close()


def gateway(tmp_path: Path, **web: object) -> Settings:
    tokens = tmp_path / "tokens"
    tokens.write_text("")
    return Settings(
        web=WebSettings(host="0.0.0.0", port=8080, **web),  # type: ignore[arg-type]
        auth=AuthSettings(tokens_file=tokens),
    )


def test_a_plain_http_gateway_beyond_loopback_is_refused(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigurationError, match=r"plain HTTP on 0\.0\.0\.0:8080.*VRS_WEB_TLS_OFFLOADED"
    ):
        check_gateway_settings(gateway(tmp_path))


def test_a_gateway_behind_a_tls_proxy_may_serve_plain_http(tmp_path: Path) -> None:
    check_gateway_settings(gateway(tmp_path, tls_offloaded=True))


def test_a_gateway_with_certificates_serves_https_beyond_loopback(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    settings = gateway(tmp_path).model_copy(
        update={"server": ServerSettings(**serving(pki.server))}
    )
    check_gateway_settings(settings)


@pytest.mark.parametrize(
    ("obs", "server", "refused"),
    [
        ({"metrics_host": "0.0.0.0", "metrics_port": 9100}, {}, True),
        (
            {"metrics_host": "0.0.0.0", "metrics_port": 9100, "metrics_tls_offloaded": True},
            {},
            False,
        ),
        ({"metrics_host": "127.0.0.1", "metrics_port": 9100}, {}, False),
        ({"metrics_host": "0.0.0.0", "metrics_port": 9100}, {"insecure": True}, False),
    ],
)
def test_metrics_follow_the_same_rule(
    obs: dict[str, object], server: dict[str, object], refused: bool
) -> None:
    def check() -> None:
        check_metrics_bind(ObservabilitySettings(**obs), ServerSettings(**server))  # type: ignore[arg-type]

    if refused:
        with pytest.raises(ConfigurationError, match="VRS_OBS_METRICS_TLS_OFFLOADED"):
            check()
    else:
        check()
