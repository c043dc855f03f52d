"""The drill's own processes: throwaway redis-servers and `vrs serve`s on free loopback ports,
each stopped when its block ends (failure and Ctrl-C included), every wait bounded."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path

import grpc
import redis
from grpc_health.v1 import health_pb2, health_pb2_grpc

from vrs.security.bind_policy import is_loopback

VRS = Path(sys.executable).with_name("vrs")
# Random weights and the small backbone: each process starts in seconds, offline.
FAST_MODEL = {"VRS_MODEL_BACKBONE": "efficientnet_lite0", "VRS_MODEL_WEIGHTS": "random"}
START_LIMIT_S = 150.0
STOP_LIMIT_S = 30.0
REDIS_START_LIMIT_S = 15.0


class DrillError(RuntimeError):
    """The drill could not set a fault up (a process that did not start, no redis-server)."""


class NotLoopback(ValueError):
    """A drill host another machine could reach."""


def require_loopback(host: str) -> str:
    """The host as an IP literal, refused unless it is loopback (no name lookups)."""
    host = host.strip().removeprefix("[").removesuffix("]")
    if not is_loopback(host):
        raise NotLoopback(f"refusing to drill {host!r}: only loopback addresses are allowed")
    return "127.0.0.1" if host.lower() == "localhost" else host


def hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def grpc_fleet_target(host: str, ports: list[int]) -> str:
    """A gRPC target naming every replica (resolved to all of them, balanced round_robin)."""
    scheme = "ipv6" if ":" in host else "ipv4"
    return f"{scheme}:" + ",".join(hostport(host, port) for port in ports)


def free_port(host: str) -> int:
    family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    with socket.socket(family) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def drill_env(host: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of the drill's vrs processes: the caller's without its VRS_* variables,
    the fast model unless the caller's VRS_MODEL_* say otherwise, everything on `host`."""
    environ = os.environ if environ is None else environ
    env = {k: v for k, v in environ.items() if not k.startswith("VRS_")}
    env.update(FAST_MODEL)
    env.update({k: v for k, v in environ.items() if k.startswith("VRS_MODEL_")})
    env.update(
        {
            # gRPC takes an IPv6 literal in brackets ([::1]:port), the HTTP listeners without.
            "VRS_GRPC_HOST": f"[{host}]" if ":" in host else host,
            "VRS_WEB_HOST": host,
            "VRS_OBS_METRICS_HOST": host,
            "VRS_GRPC_SHUTDOWN_GRACE_S": "2",
            "VRS_LOG_FORMAT": "json",
        }
    )
    return env


def summary(line: str) -> str:
    """A log line in short: its message, where (method or logger), and an exception's last
    line; non-JSON lines as they are."""
    try:
        record = json.loads(line)
    except ValueError:
        return line.strip()
    if not isinstance(record, dict):
        return line.strip()
    where = record.get("method") or record.get("logger") or ""
    text = f"{record.get('msg', '')} ({where})"
    exc = str(record.get("exc") or "").strip()
    return f"{text}: {exc.splitlines()[-1]}" if exc else text


def log_lines(path: Path, *levels: str) -> list[str]:
    """The JSON log lines of these levels (every line that is not JSON too: tracebacks)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    found = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            if line.strip():
                found.append(line)
            continue
        if isinstance(record, dict) and record.get("level") in levels:
            found.append(line)
    return found


class VrsProcess:
    """A `vrs serve` (or another server command) of the drill's: its settings, gRPC address
    and log; started, waited on, killed and started again on the same settings."""

    def __init__(
        self,
        name: str,
        workdir: Path,
        env: dict[str, str],
        args: list[str] | None = None,
        preexec: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.env = env
        self.args = args if args is not None else [str(VRS), "serve"]
        self.preexec = preexec
        self.log_path = workdir / f"{name}.log"
        host = env["VRS_GRPC_HOST"].removeprefix("[").removesuffix("]")
        self.address = hostport(host, int(env["VRS_GRPC_PORT"]))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.args,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=self.preexec,
            )

    def wait_ready(self, limit_s: float = START_LIMIT_S) -> float:
        """Seconds until its gRPC health check says SERVING; DrillError with the log's end when
        it exits or does not within limit_s."""
        started = time.monotonic()
        deadline = started + limit_s
        with grpc.insecure_channel(self.address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            while True:
                if not self.alive():
                    raise DrillError(f"{self.name} exited at start:\n{self.tail()}")
                try:
                    answer = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                    if answer.status == health_pb2.HealthCheckResponse.SERVING:
                        return time.monotonic() - started
                except grpc.RpcError:
                    pass
                if time.monotonic() > deadline:
                    raise DrillError(
                        f"{self.name} did not answer in {limit_s:.0f} s:\n{self.tail()}"
                    )
                time.sleep(0.25)

    def kill(self) -> None:
        """kill -9: no drain, no goodbye."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        if self.process is not None:
            self.process.wait(10)

    def stop(self, limit_s: float = STOP_LIMIT_S) -> None:
        """SIGTERM, then SIGKILL past limit_s."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(limit_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def errors(self) -> list[str]:
        return log_lines(self.log_path, "ERROR", "CRITICAL")

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"


@contextmanager
def running(*processes: VrsProcess, limit_s: float = START_LIMIT_S) -> Iterator[None]:
    """The processes started together, yielded once each answers; stopped at the end."""
    with ExitStack() as stack:
        for process in processes:
            stack.callback(process.stop)
            process.start()
        deadline = time.monotonic() + limit_s
        for process in processes:
            process.wait_ready(max(1.0, deadline - time.monotonic()))
        yield


class RedisServer:
    """A memory-only redis-server of the drill's on a free loopback port: killed, restarted
    empty on the same port, frozen (SIGSTOP) and thawed at will."""

    def __init__(self, workdir: Path, host: str, name: str = "redis") -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise DrillError("redis-server is not installed (Debian package redis-server)")
        self._binary = binary
        self._workdir = workdir
        self.host = host
        self.port = free_port(host)
        self.log_path = workdir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{hostport(self.host, self.port)}/0"

    def client(self, timeout_s: float = 5.0) -> redis.Redis:
        return redis.Redis(
            host=self.host,
            port=self.port,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
        )

    def start(self) -> None:
        args = [self._binary, "--bind", self.host, "--port", str(self.port), "--save", ""]
        args += ["--appendonly", "no", "--dir", str(self._workdir)]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + REDIS_START_LIMIT_S
        client = self.client(timeout_s=0.5)
        try:
            while True:
                try:
                    client.ping()
                    return
                except (redis.RedisError, OSError):
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        raise DrillError(
                            f"redis-server did not start; see {self.log_path}"
                        ) from None
                    time.sleep(0.05)
        finally:
            client.close()

    def kill(self) -> None:
        """kill -9: its data (memory only) goes with it."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def restart_empty(self) -> None:
        """A new, empty redis-server on the same port."""
        self.kill()
        self.start()

    def freeze(self) -> None:
        """SIGSTOP: connections stay open, nothing answers."""
        if self.process is None:
            raise DrillError("redis-server is not running")
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None:
            self.thaw()
            self.kill()


@contextmanager
def redis_server(workdir: Path, host: str, name: str = "redis") -> Iterator[RedisServer]:
    """A started RedisServer, killed at the end whatever state it was left in."""
    server = RedisServer(workdir, host, name)
    try:
        server.start()
        yield server
    finally:
        server.stop()
