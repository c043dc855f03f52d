"""deploy/k8s's example Redis ACL file, in a real redis-server: vrs reaches its own keys only,
the default user is off, the event publisher may only append events."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from redis.exceptions import NoPermissionError

from services.cli.main import main
from tests.support.certs import CertificateAuthority
from tests.support.k8s_render import example_secrets
from tests.support.redis_tls import VRS_ACL_RULES, TlsRedisServer
from vrs.errors import ConfigurationError
from vrs.redis_access.check import check_redis
from vrs.redis_access.connection import redis_client
from vrs.settings import RedisSettings

VRS_PASSWORD = "vrs-acl-s3cret"
PUBLISHER_PASSWORD = "publisher-acl-s3cret"


def acl_lines() -> dict[str, list[str]]:
    """User name -> its rules, from secret.example.yaml."""
    users = {}
    for line in example_secrets()["vrs-secrets"]["redis-users.acl"].splitlines():
        words = line.split()
        if words and words[0] == "user":
            users[words[1]] = words[2:]
    return users


def test_the_example_acl_grants_vrs_what_the_tls_tests_exercise() -> None:
    rules = acl_lines()["vrs"]
    assert rules[0] == "on" and re.fullmatch(r"#[0-9a-f]{64}", rules[1])
    assert tuple(rules[2:]) == VRS_ACL_RULES
    assert acl_lines()["default"] == ["off"]


@pytest.fixture
def example_acl_redis(tmp_path: Path) -> Iterator[TlsRedisServer]:
    """A TLS redis-server with the example ACL file, its placeholder hashes replaced."""
    text = example_secrets()["vrs-secrets"]["redis-users.acl"]
    for placeholder, password in (("0", VRS_PASSWORD), ("1", PUBLISHER_PASSWORD)):
        digest = hashlib.sha256(password.encode()).hexdigest()
        text = text.replace("#" + placeholder * 64, "#" + digest)
    acl = tmp_path / "users.acl"
    acl.write_text(text)
    ca = CertificateAuthority.create(tmp_path / "ca", "redis ACL test CA")
    server = TlsRedisServer(tmp_path, ca, username="vrs", password=VRS_PASSWORD, acl_file=acl)
    server.start()
    yield server
    server.stop()


def as_user(server: TlsRedisServer, username: str | None, password: str) -> RedisSettings:
    return RedisSettings(
        url=server.url,
        username=username,
        password=SecretStr(password),
        tls_ca_file=server.ca_file,
        timeout_ms=5000,
    )


async def test_the_example_acl_admits_vrs_to_its_keys_only(
    example_acl_redis: TlsRedisServer,
) -> None:
    client = redis_client(as_user(example_acl_redis, "vrs", VRS_PASSWORD))
    try:
        assert await client.incr("vrs:generation") == 1
        await client.xadd("vrs:catalog-events", {"x": "1"})
        with pytest.raises(NoPermissionError):
            await client.set("someone-elses-key", 1)
        with pytest.raises(NoPermissionError):
            await client.config_get("requirepass")
    finally:
        await client.aclose()


async def test_the_example_acl_turns_the_default_user_off(
    example_acl_redis: TlsRedisServer,
) -> None:
    with pytest.raises(ConfigurationError, match="refused the password"):
        await check_redis(as_user(example_acl_redis, None, VRS_PASSWORD), "the cache")


async def test_the_example_acl_lets_the_publisher_only_append_events(
    example_acl_redis: TlsRedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VRS_REDIS_USERNAME", "vrs-publisher")
    monkeypatch.setenv("VRS_REDIS_PASSWORD", PUBLISHER_PASSWORD)
    monkeypatch.setenv("VRS_REDIS_TLS_CA_FILE", str(example_acl_redis.ca_file))
    args = ["publish", "--redis-url", example_acl_redis.url, "--delete", "shirt-001"]
    assert await asyncio.to_thread(main, args) == 0
    client = redis_client(as_user(example_acl_redis, "vrs-publisher", PUBLISHER_PASSWORD))
    try:
        with pytest.raises(NoPermissionError):
            await client.xrange("vrs:catalog-events")
    finally:
        await client.aclose()
