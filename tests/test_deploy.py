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

from tests.support.k8s_render import (
    CERT_MANAGER_GROUP,
    DEPLOY,
    OVERLAYS,
    ROOT,
    by_kind,
    containers,
    env_of,
    example_secrets,
    mounts_of,
    render,
    workloads,
)
from vrs.settings.reference import env_reference

K8S_VERSION = "1.32"
SETTINGS = {name for name, _, _ in env_reference()}
# cert-manager's kinds: their CRDs are not in the Kubernetes schemas; their shape is checked.
CERT_MANAGER_KINDS = {"Issuer", "ClusterIssuer", "Certificate"}


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
        "Certificate",
        "Issuer",
    } <= kinds
    for doc in docs:
        if doc["apiVersion"].split("/")[0] == CERT_MANAGER_GROUP:
            assert_cert_manager_shape(doc, docs)
        else:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def assert_cert_manager_shape(doc: dict[str, Any], docs: list[dict[str, Any]]) -> None:
    """What the schemas would have caught in a cert-manager resource: a known kind of
    cert-manager.io/v1, a name, a spec; an issuer of one type; a certificate naming its Secret
    and an issuer that the render defines."""
    name = doc.get("metadata", {}).get("name")
    assert doc["apiVersion"] == f"{CERT_MANAGER_GROUP}/v1", name
    assert doc["kind"] in CERT_MANAGER_KINDS, (doc["kind"], name)
    assert name and isinstance(doc.get("spec"), dict), doc
    spec = doc["spec"]
    if doc["kind"] in ("Issuer", "ClusterIssuer"):
        types = set(spec) & {"selfSigned", "ca", "acme", "vault", "venafi"}
        assert len(types) == 1, f"issuer {name}: one issuer type, got {sorted(spec)}"
        if "ca" in types:
            assert spec["ca"]["secretName"], name
        return
    assert spec.get("secretName"), f"certificate {name} names no Secret"
    assert spec.get("commonName") or spec.get("dnsNames"), name
    ref = spec["issuerRef"]
    assert ref.get("group", CERT_MANAGER_GROUP) == CERT_MANAGER_GROUP, name
    issuers = by_kind(docs, ref.get("kind", "Issuer"))
    assert ref["name"] in issuers, f"certificate {name}: issuer {ref['name']} is not rendered"
    unknown = set(spec.get("usages", [])) - {
        "digital signature",
        "key encipherment",
        "server auth",
        "client auth",
        "cert sign",
        "crl sign",
    }
    assert not unknown, f"certificate {name}: unknown usages {unknown}"


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
        workload = workloads(docs)[name]
        container = containers(workload)[0]
        mounted = mounts_of(workload, container)
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            command = container[probe]["exec"]["command"]
            assert command[:2] == ["vrs", "--address=127.0.0.1:50051"], (name, probe)
            assert "health" in command, (name, probe)
            files = [arg.split("=", 1)[1] for arg in command if arg.startswith("--tls-")][:3]
            assert files == [f"/etc/vrs/tls/{f}" for f in ("ca.crt", "tls.crt", "tls.key")]
            assert "/etc/vrs/tls" in mounted, name
    pdbs = {
        d["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
        for d in docs
        if d["kind"] == "PodDisruptionBudget"
    }
    assert pdbs == {"vrs-embedder", "vrs-search", "qdrant"}
    scaled = {
        d["spec"]["scaleTargetRef"]["name"]
        for d in by_kind(docs, "HorizontalPodAutoscaler").values()
    }
    assert scaled == {"vrs-embedder", "vrs-search"}


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
    policies = by_kind(render("cpu"), "NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny["podSelector"] == {} and deny["policyTypes"] == ["Ingress", "Egress"]
    sources = policies["vrs-embedder-ingress"]["spec"]["ingress"][0]["from"]
    assert sources[0] == {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "vrs-search"}}}
    ingestion = sources[1]
    assert ingestion["podSelector"]["matchLabels"] == {"vrs.io/ingestion": "true"}
    [names] = ingestion["namespaceSelector"]["matchExpressions"]
    assert names["key"] == "kubernetes.io/metadata.name" and names["operator"] == "In"
    assert names["values"], "ingestion namespaces are named"
    assert len(sources) == 2


def test_qdrant_is_a_three_node_cluster_with_volumes() -> None:
    qdrant = workloads(render("cpu"))["qdrant"]
    assert qdrant["spec"]["replicas"] == 3
    assert qdrant["spec"]["volumeClaimTemplates"]
    config = next(d for d in render("cpu") if d["metadata"]["name"] == "qdrant-config")
    assert yaml.safe_load(config["data"]["production.yaml"])["cluster"]["enabled"] is True


def test_manifest_settings_exist_and_required_ones_are_set() -> None:
    docs = render("gpu") + render("cpu")
    secrets = example_secrets()
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
                assert ref["key"] in secrets.get(ref["name"], {}), ref
    for doc in docs:
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"].startswith("vrs-"):
            unknown = set(doc["data"]) - SETTINGS
            assert not unknown, f"ConfigMap {doc['metadata']['name']}: {unknown}"


def test_compose_parses_and_matches_the_settings() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"qdrant", "redis", "embedder", "search", "web"}
    for name, service in services.items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin the image"
    for name in ("embedder", "search", "web"):
        env = services[name]["environment"]
        unknown = {k for k in env if k.startswith("VRS_")} - SETTINGS
        assert not unknown, f"compose {name} sets variables no service reads: {unknown}"
        assert_required(services[name]["command"][-1], env, f"compose {name}")


def assert_required(role: str, env: dict[str, str], where: str) -> None:
    """What `vrs serve --service <role>` refuses to start without in a split deployment."""
    if role == "web":
        required = {"VRS_WEB_SEARCH_ADDRESS", "VRS_WEB_EMBEDDER_ADDRESS", "VRS_WEB_PORT"}
        assert not required - set(env), f"{where} ({role}) lacks {required - set(env)}"
        return
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
