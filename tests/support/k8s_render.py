"""deploy/k8s rendered offline (`kubectl kustomize`) and read the way the cluster would."""

from __future__ import annotations

import copy
import functools
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BASE = DEPLOY / "k8s" / "base"
OVERLAYS = ["cpu", "gpu"]
CERT_MANAGER_GROUP = "cert-manager.io"

Doc = dict[str, Any]


@functools.cache
def _rendered(overlay: str) -> str:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is needed to render the kustomize overlays (kubectl kustomize)")
    return subprocess.run(
        [kubectl, "kustomize", str(DEPLOY / "k8s" / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout


def render(overlay: str) -> list[Doc]:
    """The overlay's manifests (a fresh copy each call: tests may change what they get)."""
    return [copy.deepcopy(doc) for doc in yaml.safe_load_all(_rendered(overlay)) if doc]


def by_kind(docs: list[Doc], kind: str) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def workloads(docs: list[Doc]) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] in ("Deployment", "StatefulSet")}


def containers(workload: Doc) -> list[Doc]:
    return list(workload["spec"]["template"]["spec"]["containers"])


def env_of(container: Doc, docs: list[Doc]) -> dict[str, str]:
    """A container's environment: envFrom ConfigMaps, then env entries (secrets as refs)."""
    config_maps = {name: d.get("data", {}) for name, d in by_kind(docs, "ConfigMap").items()}
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(config_maps[source["configMapRef"]["name"]])
    for entry in container.get("env", []):
        env[entry["name"]] = entry.get("value", "<ref>")
    return env


def mounts_of(workload: Doc, container: Doc) -> dict[str, Doc]:
    """mountPath -> the volume mounted there (a StatefulSet's claims as persistentVolumeClaim)."""
    volumes = {v["name"]: v for v in workload["spec"]["template"]["spec"].get("volumes", [])}
    for claim in workload["spec"].get("volumeClaimTemplates", []):
        name = claim["metadata"]["name"]
        volumes[name] = {"name": name, "persistentVolumeClaim": {"claimName": name}}
    return {m["mountPath"]: volumes[m["name"]] for m in container.get("volumeMounts", [])}


def example_secrets() -> dict[str, dict[str, str]]:
    """secret.example.yaml: Secret name -> its keys and placeholder values."""
    docs = yaml.safe_load_all((BASE / "secret.example.yaml").read_text())
    return {d["metadata"]["name"]: d["stringData"] for d in docs if d}
