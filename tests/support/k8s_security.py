"""Reading deploy/k8s's security wiring: the vrs services, their environment, which Secret a
mounted file comes from, the Certificates cert-manager issues, network policy peers."""

from __future__ import annotations

from typing import Any

from tests.support.k8s_render import by_kind, containers, env_of, workloads

# Each vrs gRPC service -> the Secret cert-manager writes its server certificate into.
SERVICES = {"vrs-embedder": "vrs-embedder-tls", "vrs-search": "vrs-search-tls"}
Doc = dict[str, Any]


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


def peers(policy: Doc, direction: str) -> list[Doc]:
    key = "from" if direction == "ingress" else "to"
    return [peer for rule in policy["spec"].get(direction, []) for peer in rule.get(key, [])]
