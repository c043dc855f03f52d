"""deploy/k8s: both gRPC servers listen with TLS, client certificates and tokens, and search
reaches the embedder with mutual TLS and its own token."""

from __future__ import annotations

import pytest

from tests.support.k8s_render import mounts_of, render
from tests.support.k8s_security import (
    SERVICES,
    Doc,
    certificate_secrets,
    secret_behind,
    service_env,
)
from vrs.rpc.client import target_host
from vrs.security.bind_policy import missing_protection
from vrs.settings import AuthSettings, ServerSettings


@pytest.fixture(scope="module")
def docs() -> list[Doc]:
    return render("cpu")


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
    assert target_host(env["VRS_SEARCH_EMBEDDER_ADDRESS"]) in embedder_names
