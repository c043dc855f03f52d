"""The Compose deployment's TLS, checked offline: deploy/docker/dev-certs.sh makes the files
deploy/compose.yaml mounts, and with them each vrs server starts with mutual TLS and auth and
answers the clients Compose configures (its own health check, search -> embedder, the CLI)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.k8s_render import DEPLOY
from tests.support.tls_env import bare_server, health_check
from vrs.auth.tokens import parse_tokens_file
from vrs.settings import ClientSettings

SCRIPT = DEPLOY / "docker" / "dev-certs.sh"
TLS_DIR = "${VRS_TLS_DIR:-../var/tls}"
pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("compose") / "tls"
    subprocess.run(["sh", str(SCRIPT), str(out)], check=True, capture_output=True, timeout=60)
    return out


def service_files(name: str, tls_dir: Path) -> dict[str, Any]:
    """The service's VRS_GRPC_/VRS_AUTH_/VRS_CLIENT_ settings, container paths turned into
    the host paths its volumes mount there."""
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    service = compose["services"][name]
    mounts: dict[str, Path] = {}
    for volume in service["volumes"]:
        # HOST:CONTAINER[:ro], HOST holding a ${VAR:-default} (a colon of its own).
        host, container = volume.removesuffix(":ro").rsplit(":", 1)
        if host.startswith(TLS_DIR):
            mounts[container] = tls_dir / host.removeprefix(TLS_DIR + "/")
    settings: dict[str, Any] = {}
    for variable, value in service["environment"].items():
        if not variable.startswith(("VRS_GRPC_", "VRS_AUTH_", "VRS_CLIENT_")):
            continue
        for container, host in mounts.items():
            if str(value).startswith(container + "/"):
                value = host / str(value).removeprefix(container + "/")
        settings[variable] = value
    return settings


def server_fields(env: dict[str, Any]) -> dict[str, Any]:
    fields = {k.removeprefix("VRS_GRPC_").lower(): v for k, v in env.items() if "_GRPC_" in k}
    # The test server listens on loopback, not the container's 0.0.0.0.
    return {**fields, "host": "127.0.0.1"}


def client_of(env: dict[str, Any], **extra: Any) -> ClientSettings:
    fields = {k.removeprefix("VRS_CLIENT_").lower(): v for k, v in env.items() if "CLIENT" in k}
    return ClientSettings.model_validate({**fields, **extra})


@pytest.mark.parametrize("name", ["embedder", "search"])
async def test_each_service_starts_with_mutual_tls_and_answers_its_own_health_check(
    tls_dir: Path, name: str
) -> None:
    env = service_files(name, tls_dir)
    assert env["VRS_GRPC_HOST"] == "0.0.0.0"
    auth = {"tokens_file": env["VRS_AUTH_TOKENS_FILE"]}
    async with bare_server(auth=auth, **server_fields(env)) as server:
        assert server.tls is not None and server.tls.mutual
        assert await health_check(server, client_of(env)) == "SERVING"


async def test_search_reaches_the_embedder_by_its_compose_name(tls_dir: Path) -> None:
    embedder, search = service_files("embedder", tls_dir), service_files("search", tls_dir)
    auth = {"tokens_file": embedder["VRS_AUTH_TOKENS_FILE"]}
    async with bare_server(auth=auth, **server_fields(embedder)) as server:
        # Compose dials embedder:50051; here the name is checked against the certificate.
        as_search = client_of(search, tls_server_name="embedder")
        assert await health_check(server, as_search) == "SERVING"


async def test_the_operator_certificate_reaches_the_published_port(tls_dir: Path) -> None:
    env = service_files("search", tls_dir)
    operator = ClientSettings.model_validate(
        {
            "tls_ca_file": tls_dir / "ca.crt",
            "tls_cert_file": tls_dir / "operator" / "tls.crt",
            "tls_key_file": tls_dir / "operator" / "tls.key",
            "tls_server_name": "localhost",
        }
    )
    auth = {"tokens_file": env["VRS_AUTH_TOKENS_FILE"]}
    async with bare_server(auth=auth, **server_fields(env)) as server:
        assert await health_check(server, operator) == "SERVING"


def test_the_tokens_file_gives_the_search_certificate_what_it_calls_the_embedder_for(
    tls_dir: Path,
) -> None:
    table = parse_tokens_file((tls_dir / "tokens" / "tokens").read_text())
    search = table.by_certificate(None, "vrs-search")
    assert search is not None and {"ingest", "admin"} <= search.roles
    operator = table.by_certificate(None, "vrs-operator")
    assert operator is not None and operator.roles == {"search", "ingest", "admin"}


def test_private_keys_are_readable_by_their_owner_only(tls_dir: Path) -> None:
    for key in [tls_dir / "ca.key", *tls_dir.glob("*/tls.key")]:
        assert key.stat().st_mode & 0o077 == 0, key
