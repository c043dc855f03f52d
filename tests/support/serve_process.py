"""`vrs serve` as an operator runs it: the real CLI in a subprocess, configured by env."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support.redis_server import free_port

VRS = Path(sys.executable).with_name("vrs")
# Random weights and the small backbone: the process starts in seconds, offline.
FAST_MODEL = {"VRS_MODEL_WEIGHTS": "random", "VRS_MODEL_BACKBONE": "efficientnet_lite0"}


def serve_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The environment of a `vrs serve` on a free loopback port with its own Qdrant Edge
    directory; no VRS_* variable of the caller's leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VRS_")}
    env.update(FAST_MODEL)
    # The test run's converted models (see tests/support/fixtures.py), not a conversion each.
    if "VRS_MODEL_OPENVINO_CACHE_DIR" in os.environ:
        env["VRS_MODEL_OPENVINO_CACHE_DIR"] = os.environ["VRS_MODEL_OPENVINO_CACHE_DIR"]
    env.update(
        {
            "VRS_GRPC_HOST": "127.0.0.1",
            "VRS_GRPC_PORT": "0",
            "VRS_QDRANT_DATA_DIR": str(tmp_path / "qdrant-edge"),
        }
    )
    env.update(overrides)
    return env


def refused_start(env: dict[str, str], timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    """Runs `vrs serve` expected to refuse to start; its exit code and output."""
    return subprocess.run(
        [str(VRS), "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The ERROR log lines (JSON or text format) a process wrote."""
    output = result.stdout + result.stderr
    return [line for line in output.splitlines() if '"level": "ERROR"' in line or " ERROR " in line]


@contextmanager
def serving(env: dict[str, str], log_path: Path, start_limit_s: float = 120) -> Iterator[str]:
    """`vrs serve` running with env, its output in log_path; yields its address once it
    answers health checks, and stops it with SIGTERM afterwards."""
    port = free_port()
    address = f"127.0.0.1:{port}"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(VRS), "serve"],
            env={**env, "VRS_GRPC_PORT": str(port)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_serving(process, address, start_limit_s, log_path)
            yield address
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def wait_serving(
    process: subprocess.Popen[bytes], address: str, limit_s: float, log_path: Path
) -> None:
    deadline = time.monotonic() + limit_s
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                return
            except grpc.RpcError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(log_path.read_text()) from None
                time.sleep(0.3)
