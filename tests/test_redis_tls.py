"""Redis over TLS with an ACL user: the services' cache and events, and `vrs publish`, against a
real redis-server that speaks only TLS and knows only that user."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from pydantic import SecretStr

from services.cli.main import main
from tests.support.cache_env import image_query, upsert
from tests.support.certs import CertificateAuthority
from tests.support.events_pipeline import eventually
from tests.support.images import product_jpeg
from tests.support.redis_tls import TlsRedisServer
from tests.support.search_env import Vrs, VrsStarter
from vrs.errors import ConfigurationError
from vrs.redis_access.check import check_redis
from vrs.redis_access.connection import redis_client
from vrs.settings import RedisSettings
from vrs.store.base import VectorStore

USER = "vrs-app"
PASSWORD = "acl-s3cret-pw"


@pytest.fixture
def ca(tmp_path: Path) -> CertificateAuthority:
    return CertificateAuthority.create(tmp_path / "ca", "redis test CA")


@pytest.fixture
def tls_redis(tmp_path: Path, ca: CertificateAuthority) -> Iterator[TlsRedisServer]:
    server = TlsRedisServer(tmp_path, ca, username=USER, password=PASSWORD)
    server.start()
    yield server
    server.stop()


def tls_settings(server: TlsRedisServer, **overrides: Any) -> dict[str, Any]:
    """The VRS_REDIS_* section a service would get: rediss://, the CA, the ACL user."""
    # A deadline a TLS handshake on a busy test machine always meets (liveness, not speed).
    values: dict[str, Any] = {
        "url": server.url,
        "username": USER,
        "password": PASSWORD,
        "tls_ca_file": server.ca_file,
        "timeout_ms": 5000,
    }
    return {**values, **overrides}


@pytest_asyncio.fixture
async def vrs(start_vrs: VrsStarter, memory_store: VectorStore, tls_redis: TlsRedisServer) -> Vrs:
    """Embedder + search with the cache and catalog events on the TLS Redis."""
    events = {"enabled": True, "block_ms": 200}
    return await start_vrs(memory_store, redis=tls_settings(tls_redis), events=events)


async def test_search_cache_works_over_tls_as_the_acl_user(vrs: Vrs) -> None:
    photo = product_jpeg("shirt", seed=7)
    await upsert(vrs, "shirt-7", "shirt", photo)
    first = await vrs.search.SearchByImage(image_query(photo))
    second = await vrs.search.SearchByImage(image_query(photo))
    assert not first.from_cache
    assert second.from_cache
    assert [m.product_id for m in second.matches] == [m.product_id for m in first.matches]


async def test_catalog_events_flow_over_tls_as_the_acl_user(
    vrs: Vrs,
    tls_redis: TlsRedisServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    photo = product_jpeg("bag", seed=3)
    await upsert(vrs, "bag-3", "bag", photo)
    # `vrs publish` reads the same VRS_REDIS_* settings as the services.
    monkeypatch.setenv("VRS_REDIS_USERNAME", USER)
    monkeypatch.setenv("VRS_REDIS_PASSWORD", PASSWORD)
    monkeypatch.setenv("VRS_REDIS_TLS_CA_FILE", str(tls_redis.ca_file))
    args = ["publish", "--redis-url", tls_redis.url, "--delete", "bag-3"]
    assert await asyncio.to_thread(main, args) == 0

    async def gone() -> bool:
        return "bag-3" not in await vrs.store.get(["bag-3"])

    await eventually(gone, "the delete event applied by the embedder over TLS")


async def test_wrong_ca_is_refused_naming_the_setting_without_the_password(
    tls_redis: TlsRedisServer, tmp_path: Path
) -> None:
    other = CertificateAuthority.create(tmp_path / "other", "some other CA")
    settings = RedisSettings.model_validate(tls_settings(tls_redis, tls_ca_file=other.cert_file))
    with pytest.raises(ConfigurationError) as refused:
        await check_redis(settings, "catalog events")
    message = str(refused.value)
    assert "does not trust" in message and "VRS_REDIS_TLS_CA_FILE" in message
    assert PASSWORD not in message


async def test_wrong_acl_password_is_refused_without_either_password(
    tls_redis: TlsRedisServer,
) -> None:
    settings = RedisSettings.model_validate(tls_settings(tls_redis, password="not-it-s3cret"))
    with pytest.raises(ConfigurationError, match="refused the password") as refused:
        await check_redis(settings, "catalog events")
    assert "s3cret" not in str(refused.value)


async def test_client_certificate_is_presented_when_configured(
    tmp_path: Path, ca: CertificateAuthority
) -> None:
    server = TlsRedisServer(
        tmp_path, ca, username=USER, password=PASSWORD, require_client_cert=True
    )
    server.start()
    try:
        client_cert = ca.issue_client("vrs-embedder")
        settings = RedisSettings.model_validate(
            tls_settings(
                server, tls_cert_file=client_cert.cert_file, tls_key_file=client_cert.key_file
            )
        )
        await check_redis(settings, "catalog events")
    finally:
        server.stop()


async def test_missing_client_certificate_is_refused_when_the_server_requires_one(
    tmp_path: Path, ca: CertificateAuthority
) -> None:
    server = TlsRedisServer(
        tmp_path, ca, username=USER, password=PASSWORD, require_client_cert=True
    )
    server.start()
    try:
        settings = RedisSettings.model_validate(tls_settings(server))
        with pytest.raises(ConfigurationError, match="VRS_REDIS_TLS_CERT_FILE") as refused:
            await check_redis(settings, "catalog events")
        assert PASSWORD not in str(refused.value)
    finally:
        server.stop()


def test_tls_files_with_a_plaintext_url_are_refused(ca: CertificateAuthority) -> None:
    settings = RedisSettings(url="redis://127.0.0.1:6379/0", tls_ca_file=ca.cert_file)
    with pytest.raises(ConfigurationError, match=r"VRS_REDIS_TLS_CA_FILE.*rediss://"):
        redis_client(settings)


def test_a_missing_ca_file_is_refused_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "ca.crt"
    settings = RedisSettings(url="rediss://127.0.0.1:6379/0", tls_ca_file=missing)
    with pytest.raises(ConfigurationError, match=re.escape(f"VRS_REDIS_TLS_CA_FILE {missing}")):
        redis_client(settings)


async def test_the_username_setting_wins_over_the_urls(tls_redis: TlsRedisServer) -> None:
    settings = RedisSettings(
        url=f"rediss://someone-else:{PASSWORD}@127.0.0.1:{tls_redis.port}/0",
        username=USER,
        password=SecretStr(PASSWORD),
        tls_ca_file=tls_redis.ca_file,
        timeout_ms=5000,
    )
    client = redis_client(settings)
    try:
        assert await client.ping()
    finally:
        await client.aclose()
