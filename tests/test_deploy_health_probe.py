"""The pods' health-probe command of deploy/k8s passes against a real mutual-TLS vrs server."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from services.cli.main import main
from tests.support.certs import CertificateAuthority
from tests.support.k8s_render import render
from tests.support.k8s_security import SERVICES, Doc, service_env
from tests.support.tls_env import bare_server


@pytest.fixture(scope="module")
def docs() -> list[Doc]:
    return render("cpu")


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
