"""deploy/k8s checked offline: search reaches every embedder pod through a headless Service."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.k8s_render import OVERLAYS, by_kind, containers, env_of, render, workloads
from vrs.rpc.client import target_host

Doc = dict[str, Any]
HEADLESS = "vrs-embedder-headless"


@pytest.fixture(scope="module", params=OVERLAYS)
def docs(request: pytest.FixtureRequest) -> list[Doc]:
    overlay: str = request.param
    return render(overlay)


def test_a_headless_service_selects_every_embedder_pod(docs: list[Doc]) -> None:
    service = by_kind(docs, "Service")[HEADLESS]
    assert service["spec"]["clusterIP"] == "None"
    pod_labels = workloads(docs)["vrs-embedder"]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert [p["port"] for p in service["spec"]["ports"]] == [50051]


def test_search_dials_the_headless_name_over_dns(docs: list[Doc]) -> None:
    """dns:/// resolves every pod's address (a ClusterIP would pin each search pod to one)."""
    search = containers(workloads(docs)["vrs-search"])[0]
    address = env_of(search, docs)["VRS_SEARCH_EMBEDDER_ADDRESS"]
    namespace = by_kind(docs, "Service")[HEADLESS]["metadata"]["namespace"]
    assert address == f"dns:///{HEADLESS}.{namespace}.svc.cluster.local:50051"
    assert target_host(address) == f"{HEADLESS}.{namespace}.svc.cluster.local"
