"""deploy/k8s network policies: deny by default, DNS allowed, each pod admits and reaches only
what it needs."""

from __future__ import annotations

import re

import pytest

from tests.support.k8s_render import by_kind, render
from tests.support.k8s_security import Doc, peers


@pytest.fixture(scope="module")
def docs() -> list[Doc]:
    return render("cpu")


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
