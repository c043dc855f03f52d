"""deploy/k8s: Redis and Qdrant serve only TLS, vrs reaches them over it with credentials from
Secrets, and search reads Qdrant with the read-only key."""

from __future__ import annotations

import pytest
import yaml

from tests.support.k8s_render import by_kind, containers, mounts_of, render, workloads
from tests.support.k8s_security import (
    SERVICES,
    Doc,
    certificate_secrets,
    secret_behind,
    service_env,
)


@pytest.fixture(scope="module")
def docs() -> list[Doc]:
    return render("cpu")


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_redis_and_qdrant_are_reached_over_tls(docs: list[Doc], name: str) -> None:
    workload, container, env = service_env(docs, name)
    mounted = mounts_of(workload, container)
    assert env["VRS_REDIS_URL"].startswith("rediss://")
    assert env["VRS_REDIS_USERNAME"] == "vrs"
    assert env["VRS_QDRANT_URL"].startswith("https://")
    for variable in ("VRS_REDIS_TLS_CA_FILE", "VRS_QDRANT_TLS_CA_FILE"):
        assert secret_behind(env[variable], mounted)[1] == "ca.crt", variable
    assert "VRS_REDIS_ALLOW_PLAINTEXT_SECRETS" not in env
    assert "VRS_QDRANT_ALLOW_PLAINTEXT_SECRETS" not in env
    redis_host = env["VRS_REDIS_URL"].split("://")[1].split(":")[0]
    qdrant_host = env["VRS_QDRANT_URL"].split("://")[1].split(":")[0]
    certificates = certificate_secrets(docs)
    assert redis_host in certificates["vrs-redis-tls"]["spec"]["dnsNames"]
    assert qdrant_host in certificates["vrs-qdrant-tls"]["spec"]["dnsNames"]


def test_redis_speaks_only_tls_and_reads_its_users_from_the_acl_file(docs: list[Doc]) -> None:
    redis = workloads(docs)["redis"]
    [container] = containers(redis)
    args = container["args"]
    option = {args[i]: args[i + 1] for i in range(1, len(args) - 1) if args[i].startswith("--")}
    assert option["--port"] == "0" and option["--tls-port"] == "6379"
    mounted = mounts_of(redis, container)
    for flag, key in (
        ("--tls-cert-file", "tls.crt"),
        ("--tls-key-file", "tls.key"),
        ("--tls-ca-cert-file", "ca.crt"),
    ):
        assert secret_behind(option[flag], mounted) == ("vrs-redis-tls", key)
    assert secret_behind(option["--aclfile"], mounted) == ("vrs-secrets", "redis-users.acl")
    assert "--requirepass" not in args


def test_qdrant_serves_tls_to_clients_and_peers(docs: list[Doc]) -> None:
    qdrant = workloads(docs)["qdrant"]
    [container] = containers(qdrant)
    config = yaml.safe_load(by_kind(docs, "ConfigMap")["qdrant-config"]["data"]["production.yaml"])
    assert config["service"]["enable_tls"] is True
    assert config["cluster"]["p2p"]["enable_tls"] is True
    mounted = mounts_of(qdrant, container)
    for field, key in (("cert", "tls.crt"), ("key", "tls.key"), ("ca_cert", "ca.crt")):
        assert secret_behind(config["tls"][field], mounted) == ("vrs-qdrant-tls", key)
    script = container["args"][0]
    assert "http://" not in script and script.count("https://") == 2, "peers over https"
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["scheme"] == "HTTPS"
    keys = {e["name"]: e["valueFrom"]["secretKeyRef"]["key"] for e in container["env"]}
    assert keys == {
        "QDRANT__SERVICE__API_KEY": "qdrant-api-key",
        "QDRANT__SERVICE__READ_ONLY_API_KEY": "qdrant-read-only-api-key",
    }


def test_search_reads_qdrant_with_the_read_only_key(docs: list[Doc]) -> None:
    keys = {}
    for name in SERVICES:
        _, container, _ = service_env(docs, name)
        [ref] = [e for e in container["env"] if e["name"] == "VRS_QDRANT_API_KEY"]
        keys[name] = ref["valueFrom"]["secretKeyRef"]["key"]
    assert keys == {
        "vrs-embedder": "qdrant-api-key",
        "vrs-search": "qdrant-read-only-api-key",
    }
