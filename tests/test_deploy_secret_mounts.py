"""deploy/k8s: every Secret a pod reads exists (in the example or made by cert-manager), and
Secrets are mounted as read-only directories so a rotated certificate reaches the pods."""

from __future__ import annotations

import pytest

from tests.support.k8s_render import example_secrets, render, workloads
from tests.support.k8s_security import Doc, certificate_secrets


@pytest.fixture(scope="module")
def docs() -> list[Doc]:
    return render("cpu")


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
