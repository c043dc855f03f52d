"""deploy/ checked offline: manifests render and validate against the Kubernetes schemas, the
Dockerfile lints, and no VRS_* variable drifts from the settings the services read."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from vrs.settings import env_reference

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
K8S_VERSION = "1.32"
SETTINGS = {name for name, _, _ in env_reference()}
OVERLAYS = ["cpu", "gpu"]


def render(overlay: str) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is needed to render the kustomize overlays (kubectl kustomize)")
    out = subprocess.run(
        [kubectl, "kustomize", str(DEPLOY / "k8s" / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def workloads(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] in ("Deployment", "StatefulSet")}


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    return list(workload["spec"]["template"]["spec"]["containers"])


def env_of(container: dict[str, Any], docs: list[dict[str, Any]]) -> dict[str, str]:
    """A container's environment: envFrom ConfigMaps, then env entries (secrets as refs)."""
    config_maps = {
        d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"
    }
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(config_maps[source["configMapRef"]["name"]])
    for entry in container.get("env", []):
        env[entry["name"]] = entry.get("value", "<ref>")
    return env


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlays_render_and_validate(overlay: str) -> None:
    docs = render(overlay)
    kinds = {d["kind"] for d in docs}
    assert {
        "Deployment",
        "StatefulSet",
        "Service",
        "ConfigMap",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "Namespace",
    } <= kinds
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_workloads_are_locked_down_and_probed(overlay: str) -> None:
    docs = render(overlay)
    for name, workload in workloads(docs).items():
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        for container in containers(workload):
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            assert container["resources"]["requests"] and container["resources"]["limits"]
            assert "readinessProbe" in container and "livenessProbe" in container, name
    for name in ("vrs-embedder", "vrs-search"):
        container = containers(workloads(docs)[name])[0]
        assert container["readinessProbe"]["grpc"]["port"] == 50051
        assert container["livenessProbe"]["grpc"]["port"] == 50051
    pdbs = {
        d["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
        for d in docs
        if d["kind"] == "PodDisruptionBudget"
    }
    assert pdbs == {"vrs-embedder", "vrs-search", "qdrant"}
    hpa = next(d for d in docs if d["kind"] == "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "vrs-search"


def test_gpu_overlay_puts_embedders_on_gpus_and_search_off_them() -> None:
    docs = workloads(render("gpu"))
    embedder = docs["vrs-embedder"]["spec"]["template"]["spec"]
    assert embedder["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert embedder["nodeSelector"] and embedder["tolerations"]
    assert embedder["containers"][0]["image"].endswith("-cuda")
    search = docs["vrs-search"]["spec"]["template"]["spec"]["containers"][0]
    assert "nvidia.com/gpu" not in search["resources"]["limits"]
    cpu = workloads(render("cpu"))["vrs-embedder"]["spec"]["template"]["spec"]
    assert "nvidia.com/gpu" not in cpu["containers"][0]["resources"]["limits"]


def test_network_policies_let_only_search_and_ingestion_reach_the_embedder() -> None:
    policies = {d["metadata"]["name"]: d for d in render("cpu") if d["kind"] == "NetworkPolicy"}
    assert policies["default-deny-ingress"]["spec"]["podSelector"] == {}
    sources = policies["vrs-embedder-ingress"]["spec"]["ingress"][0]["from"]
    labels = [s["podSelector"]["matchLabels"] for s in sources]
    assert labels == [{"app.kubernetes.io/name": "vrs-search"}, {"vrs.io/ingestion": "true"}]


def test_qdrant_is_a_three_node_cluster_with_volumes() -> None:
    qdrant = workloads(render("cpu"))["qdrant"]
    assert qdrant["spec"]["replicas"] == 3
    assert qdrant["spec"]["volumeClaimTemplates"]
    config = next(d for d in render("cpu") if d["metadata"]["name"] == "qdrant-config")
    assert yaml.safe_load(config["data"]["production.yaml"])["cluster"]["enabled"] is True


def test_manifest_settings_exist_and_required_ones_are_set() -> None:
    docs = render("gpu") + render("cpu")
    secret = yaml.safe_load((DEPLOY / "k8s" / "base" / "secret.example.yaml").read_text())
    for name in ("vrs-embedder", "vrs-search"):
        container = containers(workloads(docs)[name])[0]
        env = env_of(container, docs)
        unknown = {k for k in env if k.startswith("VRS_")} - SETTINGS
        assert not unknown, f"{name} sets variables no service reads: {unknown}"
        role = container["args"][-1]
        assert_required(role, env, name)
        for entry in container.get("env", []):
            ref = entry.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                assert ref["key"] in secret["stringData"], ref
    for doc in docs:
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"].startswith("vrs-"):
            unknown = set(doc["data"]) - SETTINGS
            assert not unknown, f"ConfigMap {doc['metadata']['name']}: {unknown}"


def test_compose_parses_and_matches_the_settings() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"qdrant", "redis", "embedder", "search"}
    for name, service in services.items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin the image"
    for name in ("embedder", "search"):
        env = services[name]["environment"]
        unknown = {k for k in env if k.startswith("VRS_")} - SETTINGS
        assert not unknown, f"compose {name} sets variables no service reads: {unknown}"
        assert_required(services[name]["command"][-1], env, f"compose {name}")


def assert_required(role: str, env: dict[str, str], where: str) -> None:
    """What `vrs serve --service <role>` refuses to start without in a split deployment."""
    required = {"VRS_QDRANT_URL"}
    if role == "search":
        required.add("VRS_SEARCH_EMBEDDER_ADDRESS")
    if env.get("VRS_EVENTS_ENABLED") == "true":
        required.add("VRS_REDIS_URL")
    missing = required - set(env)
    assert not missing, f"{where} ({role}) lacks {missing}"


def test_dockerfile_lints_clean() -> None:
    dockerfile = DEPLOY / "docker" / "Dockerfile"
    hadolint = shutil.which("hadolint") or str(Path(ROOT / ".venv" / "bin" / "hadolint"))
    result = subprocess.run([hadolint, str(dockerfile)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    text = dockerfile.read_text()
    assert text.count("\nFROM ") >= 2, "multi-stage"
    assert "ARG VARIANT=cpu" in text and '"cuda"' in text, "CPU and CUDA variants"
    assert "USER 10001" in text and "HEALTHCHECK" in text
    assert "fetch-weights" in text, "weights baked in at build time"
