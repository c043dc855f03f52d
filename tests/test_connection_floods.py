"""Idle connections flooding one listener of a `vrs serve` whose descriptor limit is low never
take the process down: the other listeners answer throughout, and the flooded one answers
again while the flood is still held (its idle connections time out, the cap refuses the rest).
"""

from __future__ import annotations

import json
import resource
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support.redis_server import free_port
from tests.support.serve_process import VRS, serve_env, wait_serving

DESCRIPTOR_LIMIT = 256
FLOOD = 400  # more connections than the process has descriptors
HEAD_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Served:
    """A running `vrs serve` with its three listeners, and its log."""

    grpc_port: int
    web_port: int
    metrics_port: int
    log: Path

    def answers(self) -> dict[str, bool]:
        return {
            "grpc": _grpc_health(self.grpc_port),
            "web": _http_ok(self.web_port, "/healthz"),
            "metrics": _http_ok(self.metrics_port, "/metrics"),
        }

    def port_of(self, listener: str) -> int:
        return {"grpc": self.grpc_port, "web": self.web_port, "metrics": self.metrics_port}[
            listener
        ]


def _grpc_health(port: int) -> bool:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
        except grpc.RpcError:
            return False
    return True


def _http_ok(port: int, path: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as answer:
            return int(answer.status) == 200
    except OSError:
        return False


def _low_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (DESCRIPTOR_LIMIT, DESCRIPTOR_LIMIT))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("flood")
    ports = Served(free_port(), free_port(), free_port(), tmp / "serve.log")
    env = serve_env(
        tmp,
        VRS_GRPC_PORT=str(ports.grpc_port),
        VRS_WEB_PORT=str(ports.web_port),
        VRS_OBS_METRICS_PORT=str(ports.metrics_port),
        VRS_CONN_HEAD_TIMEOUT_S=str(HEAD_TIMEOUT_S),
    )
    with ports.log.open("w") as log:
        process = subprocess.Popen(
            [str(VRS), "serve"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_low_limit,
        )
        try:
            wait_serving(process, f"127.0.0.1:{ports.grpc_port}", 120, ports.log)
            yield ports
        finally:
            process.terminate()
            process.wait(30)


def _flood(port: int, head: bytes) -> list[socket.socket]:
    held = []
    for _ in range(FLOOD):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=2)
            sock.sendall(head)
        except OSError:
            continue  # refused at once: what the cap does
        held.append(sock)
    return held


def _within(limit_s: float, check: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.25)
    return False


def test_the_process_states_its_descriptor_budget(served: Served) -> None:
    budget = [
        json.loads(line)
        for line in served.log.read_text().splitlines()
        if '"msg": "connection budget"' in line
    ]
    assert len(budget) == 1
    assert budget[0]["descriptor_limit"] == DESCRIPTOR_LIMIT
    caps = budget[0]["grpc_connections"] + budget[0]["web_connections"]
    assert caps + budget[0]["metrics_connections"] + budget[0]["reserved"] <= DESCRIPTOR_LIMIT


@pytest.mark.parametrize(
    ("listener", "head"),
    [("grpc", b""), ("grpc", b"GET /v1/cat"), ("web", b"GET /v1/cat"), ("metrics", b"GET /me")],
)
def test_a_flood_on_one_listener_leaves_the_others_answering(
    served: Served, listener: str, head: bytes
) -> None:
    flood = _flood(served.port_of(listener), head)
    try:
        others = [name for name in ("grpc", "web", "metrics") if name != listener]
        started = time.monotonic()
        while time.monotonic() - started < HEAD_TIMEOUT_S * 2:
            answers = served.answers()
            assert all(answers[name] for name in others), answers
            time.sleep(0.25)
        assert _within(HEAD_TIMEOUT_S * 3, lambda: served.answers()[listener]), (
            f"{listener} did not answer again while the flood was held"
        )
    finally:
        for sock in flood:
            sock.close()


def test_a_flood_is_logged_in_summary_lines_not_per_connection(served: Served) -> None:
    lines = served.log.read_text().splitlines()
    summaries = [line for line in lines if '"logger": "vrs.listeners.refusals"' in line]
    assert 1 <= len(summaries) <= 10, f"{len(summaries)} refusal lines for {FLOOD * 4} floods"
    assert not [line for line in lines if "out of system resource" in line]
