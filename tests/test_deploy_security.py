"""deploy/k8s runs vrs the secure way, checked offline: TLS and callers on every gRPC server,
Redis and Qdrant over TLS with credentials from Secrets, certificates from cert-manager mounted
so rotation reaches the pods, network policies that deny by default. The pieces that can run
here do: the example Redis ACL file in a real redis-server, the example tokens file through
vrs's parser, the pods' health-probe command against a real mutual-TLS vrs server."""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr
from redis.exceptions import NoPermissionError

from tests.support.certs import CertificateAuthority
from tests.support.k8s_render import (
    by_kind,
    containers,
    env_of,
    example_secrets,
    mounts_of,
    render,
    workloads,
)
from tests.support.redis_tls import VRS_ACL_RULES, TlsRedisServer
from tests.support.tls_env import bare_server
from vrs.auth.tokens import parse_tokens_file
from vrs.bind_policy import missing_protection
from vrs.cli.main import main
from vrs.errors import ConfigurationError
from vrs.redis_check import check_redis
from vrs.redis_guard import redis_client
from vrs.settings import AuthSettings, RedisSettings, ServerSettings

SERVICES = {"vrs-embedder": "vrs-embedder-tls", "vrs-search": "vrs-search-tls"}
Doc = dict[str, Any]


@pytest.fixture(scope="module")
def docs() -> list[Doc]:
    return render("cpu")


def service_env(docs: list[Doc], name: str) -> tuple[Doc, Doc, dict[str, str]]:
    workload = workloads(docs)[name]
    container = containers(workload)[0]
    return workload, container, env_of(container, docs)


def secret_behind(path: str, mounted: dict[str, Doc]) -> tuple[str, str]:
    """(Secret name, key) of the file at `path` in a pod with these mounts."""
    directory, _, file = path.rpartition("/")
    volume = mounted[directory]
    assert "secret" in volume, f"{path} is not in a mounted Secret"
    items = {i["path"]: i["key"] for i in volume["secret"].get("items", [])}
    return volume["secret"]["secretName"], items.get(file, file)


def certificate_secrets(docs: list[Doc]) -> dict[str, Doc]:
    """Secret name -> the Certificate cert-manager writes into it."""
    return {c["spec"]["secretName"]: c for c in by_kind(docs, "Certificate").values()}


def test_every_secret_a_pod_reads_is_in_the_example_or_made_by_cert_manager(
    docs: list[Doc],
) -> None:
    examples = example_secrets()
    made = {name: {"tls.crt", "tls.key", "ca.crt"} for name in certificate_secrets(docs)}
    known: dict[str, set[str]] = {name: set(keys) for name, keys in examples.items()} | made
    for name, workload in workloads(docs).items():
        pod = workload["spec"]["template"]["spec"]
        for volume in pod.get("volumes", []):
            if "secret" in volume:
                secret = volume["secret"]["secretName"]
                assert secret in known, f"{name} mounts unknown Secret {secret}"
                for item in volume["secret"].get("items", []):
                    assert item["key"] in known[secret], (name, secret, item["key"])
        for container in pod["containers"]:
            for entry in container.get("env", []):
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in known.get(ref["name"], set()), (name, ref)


def test_secrets_are_mounted_as_directories_so_rotation_reaches_the_pods(
    docs: list[Doc],
) -> None:
    for name, workload in workloads(docs).items():
        pod = workload["spec"]["template"]["spec"]
        secret_volumes = {v["name"] for v in pod.get("volumes", []) if "secret" in v}
        for container in pod["containers"]:
            for mount in container.get("volumeMounts", []):
                if mount["name"] in secret_volumes:
                    # kubelet never updates a subPath mount: a rotated file would not arrive.
                    assert "subPath" not in mount, (name, mount)
                    assert mount.get("readOnly") is True, (name, mount)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_grpc_servers_listen_with_tls_client_certificates_and_tokens(
    docs: list[Doc], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    workload, container, env = service_env(docs, name)
    mounted = mounts_of(workload, container)
    assert env["VRS_GRPC_HOST"] == "0.0.0.0"
    for variable, key in (
        ("VRS_GRPC_TLS_CERT_FILE", "tls.crt"),
        ("VRS_GRPC_TLS_KEY_FILE", "tls.key"),
        ("VRS_GRPC_TLS_CLIENT_CA_FILE", "ca.crt"),
    ):
        assert secret_behind(env[variable], mounted) == (SERVICES[name], key), variable
    assert SERVICES[name] in certificate_secrets(docs)
    assert secret_behind(env["VRS_AUTH_TOKENS_FILE"], mounted) == ("vrs-tokens", "tokens")
    # What the server itself checks before it listens on a non-loopback address.
    for variable, value in env.items():
        if variable.startswith(("VRS_GRPC_", "VRS_AUTH_")):
            monkeypatch.setenv(variable, value)
    assert missing_protection(ServerSettings(), AuthSettings()) == []


def test_search_reaches_the_embedder_with_mtls_and_its_token(docs: list[Doc]) -> None:
    workload, container, env = service_env(docs, "vrs-search")
    mounted = mounts_of(workload, container)
    for variable, key in (
        ("VRS_CLIENT_TLS_CA_FILE", "ca.crt"),
        ("VRS_CLIENT_TLS_CERT_FILE", "tls.crt"),
        ("VRS_CLIENT_TLS_KEY_FILE", "tls.key"),
    ):
        assert secret_behind(env[variable], mounted) == ("vrs-search-client-tls", key)
    client_cert = certificate_secrets(docs)["vrs-search-client-tls"]["spec"]
    assert "client auth" in client_cert["usages"]
    [token] = [e for e in container["env"] if e["name"] == "VRS_CLIENT_TOKEN"]
    assert token["valueFrom"]["secretKeyRef"] == {"name": "vrs-search-token", "key": "token"}
    embedder_names = certificate_secrets(docs)["vrs-embedder-tls"]["spec"]["dnsNames"]
    assert env["VRS_SEARCH_EMBEDDER_ADDRESS"].rpartition(":")[0] in embedder_names


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


def peers(policy: Doc, direction: str) -> list[Doc]:
    key = "from" if direction == "ingress" else "to"
    return [peer for rule in policy["spec"].get(direction, []) for peer in rule.get(key, [])]


def test_network_policies_deny_by_default_and_allow_dns(docs: list[Doc]) -> None:
    policies = by_kind(docs, "NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    dns = policies["allow-dns-egress"]["spec"]
    assert dns["podSelector"] == {}
    [rule] = dns["egress"]
    assert {(p["port"], p["protocol"]) for p in rule["ports"]} == {(53, "UDP"), (53, "TCP")}
    [peer] = rule["to"]
    assert peer["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}
    assert peer["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "kube-system"
    }


def test_no_policy_admits_every_namespace(docs: list[Doc]) -> None:
    for name, policy in by_kind(docs, "NetworkPolicy").items():
        for peer in peers(policy, "ingress") + peers(policy, "egress"):
            if "namespaceSelector" in peer:
                assert peer["namespaceSelector"], f"{name}: a peer of any namespace"
                assert peer.get("podSelector"), f"{name}: every pod of a namespace"


@pytest.mark.parametrize("target", ["redis", "qdrant"])
def test_redis_and_qdrant_admit_only_vrs_pods(docs: list[Doc], target: str) -> None:
    policy = by_kind(docs, "NetworkPolicy")[f"{target}-ingress"]
    allowed = {"vrs-embedder", "vrs-search", "qdrant"}
    for peer in peers(policy, "ingress"):
        labels = peer["podSelector"]["matchLabels"]
        if "namespaceSelector" in peer:  # catalog-event producers, in the named namespaces
            assert target == "redis" and labels == {"vrs.io/ingestion": "true"}
        else:
            assert labels["app.kubernetes.io/name"] in allowed, (target, peer)


def test_egress_is_limited_to_the_dependencies_and_the_image_hosts(docs: list[Doc]) -> None:
    policies = by_kind(docs, "NetworkPolicy")

    def targets(policy: str) -> set[str]:
        return {
            p["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
            for p in peers(policies[policy], "egress")
            if "podSelector" in p
        }

    assert targets("vrs-services-egress") == {"redis", "qdrant"}
    assert targets("vrs-search-egress") == {"vrs-embedder"}
    assert targets("qdrant-egress") == {"qdrant"}
    image_hosts = policies["vrs-embedder-image-hosts-egress"]
    assert image_hosts["spec"]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "vrs-embedder"
    }
    blocks = [p["ipBlock"]["cidr"] for p in peers(image_hosts, "egress")]
    assert blocks and all(re.fullmatch(r"[0-9a-f.:]+/\d+", b) for b in blocks)


def test_the_example_tokens_file_parses_into_callers_with_roles() -> None:
    table = parse_tokens_file(example_secrets()["vrs-tokens"]["tokens"])
    assert len(table) == 5
    ingestion = table.by_certificate(None, "catalog-ingestion")
    assert ingestion is not None and ingestion.roles == {"ingest"}


# -- the example Redis ACL file, in a real redis-server -------------------------------------

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


# -- the pods' health probe, against a real mutual-TLS vrs server -------------------------


def cert_manager_secret(directory: Path, ca: CertificateAuthority, dns_name: str) -> Path:
    """A pod certificate as cert-manager writes it (tls.crt, tls.key, ca.crt in one folder),
    for `dns_name`, usable as server and client certificate like certificates.yaml's."""
    issued = ca.issue_server(dns_name, hosts=(dns_name,), client_auth=True)
    directory.mkdir(parents=True)
    shutil.copyfile(issued.cert_file, directory / "tls.crt")
    shutil.copyfile(issued.key_file, directory / "tls.key")
    shutil.copyfile(ca.cert_file, directory / "ca.crt")
    return directory


@pytest.mark.parametrize("name", sorted(SERVICES))
async def test_the_pods_probe_command_passes_against_a_mutual_tls_server(
    docs: list[Doc], name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = CertificateAuthority.create(tmp_path / "ca", "vrs-ca")
    tls = cert_manager_secret(tmp_path / "tls", ca, name)
    tokens = tmp_path / "tokens"
    tokens.write_text("")
    _, container, _ = service_env(docs, name)
    command = container["livenessProbe"]["exec"]["command"]
    async with bare_server(
        auth={"tokens_file": tokens},
        tls_cert_file=tls / "tls.crt",
        tls_key_file=tls / "tls.key",
        tls_client_ca_file=tls / "ca.crt",
    ) as server:
        args = [
            arg.replace("/etc/vrs/tls", str(tls)).replace(":50051", f":{server.port}")
            for arg in command[1:]
        ]
        assert await asyncio.to_thread(main, args) == 0
    assert capsys.readouterr().out.strip() == "SERVING"
