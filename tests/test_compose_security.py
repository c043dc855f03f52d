"""deploy/compose.yaml reaches Redis and Qdrant over TLS with the credentials that
deploy/docker/dev-secrets.sh makes (after dev-certs.sh), checked offline: the scripts run here
with openssl, and the Redis they describe runs as a real redis-server."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from tests.support.k8s_render import DEPLOY, ROOT
from tests.support.redis_tls import TlsRedisServer
from vrs.errors import ConfigurationError
from vrs.redis_access.check import check_redis
from vrs.settings import RedisSettings

TLS_DIR_VARIABLE = re.compile(r"\$\{VRS_TLS_DIR:-[^}]*\}")


def run_script(name: str, directory: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to run the Compose credential scripts")
    subprocess.run(
        ["sh", str(DEPLOY / "docker" / name), str(directory)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def credentials(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("compose") / "tls"
    run_script("dev-certs.sh", directory)
    run_script("dev-secrets.sh", directory)
    return directory


def env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key: value for key, value in pairs}


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((DEPLOY / "compose.yaml").read_text()))


@pytest.fixture
def compose_redis(tmp_path: Path, credentials: Path) -> Iterator[TlsRedisServer]:
    """The Redis compose.yaml runs: dev-secrets.sh's certificate and ACL file."""
    folder = credentials / "redis"
    server = TlsRedisServer(
        tmp_path,
        acl_file=folder / "users.acl",
        tls_files=(folder / "tls.crt", folder / "tls.key", folder / "ca.crt"),
    )
    server.start()
    yield server
    server.stop()


def vrs_redis_settings(
    server: TlsRedisServer, credentials: Path, **overrides: Any
) -> RedisSettings:
    """RedisSettings as compose.yaml gives the services (VRS_REDIS_* plus services.env)."""
    common = compose()["x-vrs-common"]
    values: dict[str, Any] = {
        "url": server.url,
        "username": common["VRS_REDIS_USERNAME"],
        "password": SecretStr(env_file(credentials / "services.env")["VRS_REDIS_PASSWORD"]),
        "tls_ca_file": credentials / "ca.crt",
        "timeout_ms": 5000,
        **overrides,
    }
    return RedisSettings.model_validate(values)


async def test_the_services_reach_the_compose_redis_over_tls_as_user_vrs(
    compose_redis: TlsRedisServer, credentials: Path
) -> None:
    await check_redis(vrs_redis_settings(compose_redis, credentials), "catalog events")


async def test_the_compose_redis_turns_the_default_user_off(
    compose_redis: TlsRedisServer, credentials: Path
) -> None:
    settings = vrs_redis_settings(compose_redis, credentials, username=None)
    with pytest.raises(ConfigurationError, match="refused the password"):
        await check_redis(settings, "catalog events")


def test_rerunning_the_script_keeps_the_credentials(credentials: Path) -> None:
    before = (credentials / "services.env").read_text()
    run_script("dev-secrets.sh", credentials)
    assert (credentials / "services.env").read_text() == before


def test_the_passwords_are_only_hashed_in_the_acl_file(credentials: Path) -> None:
    password = env_file(credentials / "services.env")["VRS_REDIS_PASSWORD"]
    acl = (credentials / "redis" / "users.acl").read_text()
    assert password not in acl
    assert env_file(credentials / "redis.env")["REDISCLI_AUTH"] == password
    assert (credentials / "services.env").stat().st_mode & 0o077 == 0, "env files are private"


def test_every_credential_file_compose_names_is_made_by_the_scripts(credentials: Path) -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    named = {
        TLS_DIR_VARIABLE.sub(str(credentials), m)
        for m in re.findall(TLS_DIR_VARIABLE.pattern + r"[^\s:#\"]*", text)
    }
    assert named, "compose.yaml mounts the credentials"
    missing = sorted(path for path in named if not Path(path).exists())
    assert not missing, f"compose.yaml names files the scripts do not make: {missing}"


def test_compose_dials_redis_and_qdrant_over_tls() -> None:
    config = compose()
    common = config["x-vrs-common"]
    assert common["VRS_REDIS_URL"].startswith("rediss://")
    assert common["VRS_QDRANT_URL"].startswith("https://")
    services = config["services"]
    for name in ("embedder", "search"):
        assert services[name]["env_file"].endswith("/services.env"), name
        assert "VRS_REDIS_ALLOW_PLAINTEXT_SECRETS" not in services[name]["environment"]
        assert "VRS_QDRANT_ALLOW_PLAINTEXT_SECRETS" not in services[name]["environment"]
    redis_args = services["redis"]["command"]
    assert redis_args[redis_args.index("--port") + 1] == "0", "no plaintext Redis port"
    assert "--aclfile" in redis_args
    assert services["qdrant"]["environment"]["QDRANT__SERVICE__ENABLE_TLS"] == "true"
    assert services["qdrant"]["ports"] == ["127.0.0.1:6333:6333"], "Qdrant on loopback only"
