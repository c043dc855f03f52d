"""A real redis-server speaking only TLS on a free loopback port, with ACL users.

The default user is off: a client gets in only as an ACL user, over TLS, trusting the CA.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

from tests.support.certs import CertificateAuthority
from tests.support.redis_server import free_port

# What vrs needs, as deploy/k8s/base/secret.example.yaml grants it: its keys and streams
# (prefix "vrs") and every command but the @dangerous ones (CONFIG, FLUSHALL, KEYS, ...).
VRS_ACL_RULES: tuple[str, ...] = ("~vrs*", "+@all", "-@dangerous")


class TlsRedisServer:
    """redis-server --port 0 --tls-port P with a loopback certificate from `ca` (or the
    certificate files given); user `username` with VRS_ACL_RULES, or the users of `acl_file`
    when one is given."""

    def __init__(
        self,
        workdir: Path,
        ca: CertificateAuthority | None = None,
        *,
        username: str = "",
        password: str = "",
        require_client_cert: bool = False,
        acl_file: Path | None = None,
        tls_files: tuple[Path, Path, Path] | None = None,
    ) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (Debian package redis-server)")
        self._binary = binary
        self._workdir = workdir
        self.ca = ca
        if tls_files is not None:
            self.cert_file, self.key_file, self.ca_file = tls_files
        elif ca is not None:
            cert = ca.issue_server("redis")
            self.cert_file, self.key_file, self.ca_file = (
                cert.cert_file,
                cert.key_file,
                ca.cert_file,
            )
        else:
            raise ValueError("give a CA or the certificate files")
        self.username = username
        self.password = password
        self.require_client_cert = require_client_cert
        self.acl_file = acl_file
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """rediss:// to it, without credentials (the settings carry them)."""
        return f"rediss://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self._process = subprocess.Popen(
            [
                self._binary,
                "--port",
                "0",
                "--tls-port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--tls-cert-file",
                str(self.cert_file),
                "--tls-key-file",
                str(self.key_file),
                "--tls-ca-cert-file",
                str(self.ca_file),
                "--tls-auth-clients",
                "yes" if self.require_client_cert else "no",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self._workdir),
                *self._users(),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_until_up()

    def _users(self) -> list[str]:
        if self.acl_file is not None:
            return ["--aclfile", str(self.acl_file)]
        return [
            "--user",
            "default",
            "off",
            "--user",
            self.username,
            "on",
            f">{self.password}",
            *VRS_ACL_RULES,
        ]

    def _wait_until_up(self) -> None:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        if self.require_client_cert:
            assert self.ca is not None, "a client certificate needs the CA to issue it"
            client = self.ca.issue_client("probe")
            context.load_cert_chain(client.cert_file, client.key_file)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with (
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as raw,
                    context.wrap_socket(raw, server_hostname="127.0.0.1") as sock,
                ):
                    sock.sendall(b"PING\r\n")
                    # NOAUTH: up, TLS working, and asking who we are.
                    if sock.recv(16).startswith((b"+PONG", b"-NOAUTH")):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server (TLS) did not start")

    def stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait(10)
            self._process = None
