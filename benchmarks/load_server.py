"""A `vrs serve` of the load test's own (with a throwaway Redis for the cache when
redis-server is installed), on free loopback ports, stopped when the test ends."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
import redis
from grpc_health.v1 import health_pb2, health_pb2_grpc

START_LIMIT_S = 300.0


@dataclass(frozen=True)
class OwnServer:
    """Where the started server listens, its pid and whether its cache is on."""

    address: str
    pid: int
    cache: bool


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def own_server(workdir: Path, backbone: str = "efficientnet_lite0") -> Iterator[OwnServer]:
    """`vrs serve` with `backbone`, its Qdrant Edge data and log in workdir."""
    with ExitStack() as stack:
        # The caller's model settings (VRS_MODEL_WEIGHTS...) apply; nothing else of theirs.
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("VRS_") or k.startswith("VRS_MODEL_")
        }
        env.update(
            {
                "VRS_MODEL_BACKBONE": backbone,
                "VRS_GRPC_HOST": "127.0.0.1",
                "VRS_QDRANT_DATA_DIR": str(workdir / "qdrant"),
            }
        )
        redis_url = stack.enter_context(throwaway_redis(workdir))
        if redis_url is not None:
            env["VRS_REDIS_URL"] = redis_url
        port = free_port()
        env["VRS_GRPC_PORT"] = str(port)
        log_path = workdir / "serve.log"
        log = stack.enter_context(log_path.open("w"))
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli.main", "serve"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        stack.callback(_stop, process)
        address = f"127.0.0.1:{port}"
        _wait_serving(process, address, log_path)
        yield OwnServer(address, process.pid, redis_url is not None)


@contextmanager
def throwaway_redis(workdir: Path) -> Iterator[str | None]:
    """A memory-only redis-server on a free loopback port; None when none is installed."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    port = free_port()
    process = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.RedisError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.1)
        client.close()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def _wait_serving(process: subprocess.Popen[bytes], address: str, log: Path) -> None:
    deadline = time.monotonic() + START_LIMIT_S
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"vrs serve exited:\n{log.read_text()[-2000:]}")
            try:
                answer = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if answer.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.3)
    raise RuntimeError(f"vrs serve did not become ready in {START_LIMIT_S:.0f} s; see {log}")
