"""Embedder replicas as separate `vrs serve --service embedder` processes on loopback, each
with its own Qdrant Edge directory: a fleet to balance over and to kill -9."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support.redis_server import free_port
from tests.support.serve_process import VRS, serve_env
from vrs.v1 import embedder_pb2, embedder_pb2_grpc


@dataclass
class EmbedderProcess:
    """One running embedder replica: its process and loopback address."""

    process: subprocess.Popen[bytes]
    address: str
    log_path: Path

    def images_embedded(self) -> int:
        """Images this replica has embedded (its GetStats counter)."""
        with grpc.insecure_channel(self.address) as channel:
            stats = embedder_pb2_grpc.EmbedderServiceStub(channel).GetStats(
                embedder_pb2.GetEmbedderStatsRequest(), timeout=10
            )
        return stats.images_embedded

    def kill(self) -> None:
        """kill -9: no drain, no goodbye to its clients."""
        self.process.kill()
        self.process.wait(10)


@contextmanager
def embedder_fleet(
    tmp_path: Path, count: int, start_limit_s: float = 120
) -> Iterator[list[EmbedderProcess]]:
    """`count` embedder processes started together, yielded once all answer health checks;
    stopped (SIGTERM, then SIGKILL) afterwards."""
    with ExitStack() as stack:
        fleet = [stack.enter_context(_started(tmp_path / f"embedder-{i}")) for i in range(count)]
        deadline = time.monotonic() + start_limit_s
        for replica in fleet:
            _wait_serving(replica, deadline)
        yield fleet


@contextmanager
def _started(workdir: Path) -> Iterator[EmbedderProcess]:
    workdir.mkdir(parents=True)
    address = f"127.0.0.1:{free_port()}"
    env = serve_env(
        workdir,
        VRS_GRPC_PORT=address.rsplit(":", 1)[1],
        VRS_LOG_LEVEL="WARNING",
        VRS_GRPC_SHUTDOWN_GRACE_S="1",
    )
    log_path = workdir / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(VRS), "serve", "--service", "embedder"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield EmbedderProcess(process, address, log_path)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def _wait_serving(replica: EmbedderProcess, deadline: float) -> None:
    with grpc.insecure_channel(replica.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                return
            except grpc.RpcError:
                if replica.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(replica.log_path.read_text()) from None
                time.sleep(0.3)
