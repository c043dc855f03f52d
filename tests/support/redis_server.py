"""A real redis-server on a free loopback port, owned by the test that starts it: the one
launcher (start, wait until it answers, stop) for plain and TLS servers alike."""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class RedisTls:
    """The server's TLS files; with require_client_cert, clients (the readiness probe too) must
    present a certificate the CA signed: `probe_cert` is the probe's (certificate, key)."""

    cert_file: Path
    key_file: Path
    ca_file: Path
    require_client_cert: bool = False
    probe_cert: tuple[Path, Path] | None = None

    def args(self, port: int) -> list[str]:
        return [
            "--port",
            "0",
            "--tls-port",
            str(port),
            "--tls-cert-file",
            str(self.cert_file),
            "--tls-key-file",
            str(self.key_file),
            "--tls-ca-cert-file",
            str(self.ca_file),
            "--tls-auth-clients",
            "yes" if self.require_client_cert else "no",
        ]

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        if self.probe_cert is not None:
            context.load_cert_chain(*self.probe_cert)
        return context


class RedisServer:
    """A redis-server process on a free loopback port, without persistence unless asked.

    appendonly: AOF with an fsync per write (a kill loses nothing, as a persistent Redis).
    password: clients must AUTH (--requirepass); `url` leaves it out.
    tls: speak only TLS (the plain port is off) with these files.
    users: redis-server arguments that define the ACL users (--user ..., --aclfile ...).
    """

    def __init__(
        self,
        workdir: Path,
        *,
        appendonly: bool = False,
        password: str | None = None,
        tls: RedisTls | None = None,
        users: list[str] | None = None,
    ) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (Debian package redis-server)")
        self._binary = binary
        self._workdir = workdir
        self.appendonly = appendonly
        self.password = password
        self.tls = tls
        self.users = users or []
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """redis:// (rediss:// with TLS) to it, without credentials (the settings carry them)."""
        scheme = "rediss" if self.tls is not None else "redis"
        return f"{scheme}://127.0.0.1:{self.port}/0"

    def _args(self) -> list[str]:
        listen = self.tls.args(self.port) if self.tls is not None else ["--port", str(self.port)]
        persistence = ["--appendonly", "yes" if self.appendonly else "no"]
        if self.tls is None:
            persistence += ["--appendfsync", "always"]
        return [
            self._binary,
            *listen,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            *persistence,
            "--dir",
            str(self._workdir),
            *(["--requirepass", self.password] if self.password else []),
            *self.users,
        ]

    def start(self) -> None:
        self._process = subprocess.Popen(
            self._args(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self._wait_until_up()

    def _wait_until_up(self) -> None:
        context = self.tls.client_context() if self.tls is not None else None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                with (
                    socket.create_connection(
                        ("127.0.0.1", self.port), timeout=0.2 if context is None else 0.5
                    ) as raw,
                    self._wrapped(raw, context) as sock,
                ):
                    sock.sendall(b"PING\r\n")
                    # NOAUTH: up (TLS working) and asking who we are.
                    if sock.recv(16).startswith((b"+PONG", b"-NOAUTH")):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server{' (TLS)' if self.tls else ''} did not start")

    @staticmethod
    def _wrapped(
        raw: socket.socket, context: ssl.SSLContext | None
    ) -> AbstractContextManager[socket.socket]:
        if context is None:
            return nullcontext(raw)
        return context.wrap_socket(raw, server_hostname="127.0.0.1")

    def stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait(10)
            self._process = None

    def restart(self) -> None:
        """Kill and start again on the same port and dir (with AOF, the data comes back)."""
        self.stop()
        self.start()

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        """Redis stopped dead (SIGSTOP) inside the block: connections stay open, nothing
        answers; it resumes (SIGCONT) at the end with its data."""
        if self._process is None:
            raise RuntimeError("redis-server is not running")
        self._process.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            self._process.send_signal(signal.SIGCONT)
