"""Phase floods: a `vrs serve` with its three listeners (gRPC, the web gateway, /metrics),
started with 256 file descriptors and a 2 s request-head deadline, and ~400 connections that
send half a request line (`GET /v1/cat`) and nothing more, on each listener in turn. Expected:
the other two listeners answer throughout (gRPC health Check, GET /healthz, GET /metrics), the
flooded one answers again while the flood is still held (its idle connections time out, the
cap refuses the rest), and the process neither dies nor runs out of descriptors.

The same floods as tests/test_connection_floods.py, as an operator would see them."""

from __future__ import annotations

import json
import resource
import socket
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from benchmarks.drill_catalog import DrillContext
from benchmarks.drill_procs import VrsProcess, hostport, running
from benchmarks.drill_report import PhaseResult

NAME = "floods"
FAULT = "Idle-connection floods, 256 descriptors"
DESCRIPTOR_LIMIT = 256
FLOOD = 400  # more connections than the process has descriptors
HEAD_TIMEOUT_S = 2.0
HEAD = b"GET /v1/cat"
LISTENERS = ("grpc", "web", "metrics")
# Each listener in turn; gRPC also with connections that send nothing at all (half an HTTP/1
# request line is refused at its first byte by an HTTP/2 server, silence is not).
FLOODS = (("grpc", b""), ("grpc", HEAD), ("web", HEAD), ("metrics", HEAD))
CHECK_TIMEOUT_S = 2.0


def low_descriptor_limit() -> None:
    """In the child, before exec: the descriptor limit, soft and hard."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (DESCRIPTOR_LIMIT, DESCRIPTOR_LIMIT))


def grpc_answers(address: str) -> bool:
    with grpc.insecure_channel(address) as channel:
        try:
            health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=CHECK_TIMEOUT_S
            )
        except grpc.RpcError:
            return False
    return True


def http_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=CHECK_TIMEOUT_S) as answer:
            return int(answer.status) == 200
    except OSError:
        return False


@dataclass(frozen=True)
class Listeners:
    """The three listeners of one process, and how each is asked whether it answers."""

    host: str
    ports: dict[str, int]

    def check(self, listener: str) -> bool:
        where = hostport(self.host, self.ports[listener])
        if listener == "grpc":
            return grpc_answers(where)
        path = "/healthz" if listener == "web" else "/metrics"
        return http_answers(f"http://{where}{path}")


def flood(host: str, port: int, head: bytes) -> list[socket.socket]:
    """FLOOD connections each sending `head` and nothing more; those accepted are held."""
    held = []
    for _ in range(FLOOD):
        try:
            sock = socket.create_connection((host, port), timeout=CHECK_TIMEOUT_S)
        except OSError:
            continue  # refused at once: what the cap does
        try:
            if head:
                sock.sendall(head)
        except OSError:
            sock.close()
            continue
        held.append(sock)
    return held


def within(limit_s: float, check: Callable[[], bool]) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        if check():
            return time.monotonic() - started
        time.sleep(0.25)
    return None


def _budget(serve: VrsProcess) -> dict[str, object] | None:
    for line in serve.log_path.read_text(errors="replace").splitlines():
        if '"msg": "connection budget"' in line:
            record: dict[str, object] = json.loads(line)
            return record
    return None


def run(ctx: DrillContext) -> PhaseResult:
    result = PhaseResult(NAME, FAULT)
    folder = ctx.phase_dir(NAME)
    ports = {"grpc": int(ctx.port()), "web": int(ctx.port()), "metrics": int(ctx.port())}
    env = ctx.vrs_env(
        VRS_GRPC_PORT=str(ports["grpc"]),
        VRS_WEB_PORT=str(ports["web"]),
        VRS_OBS_METRICS_PORT=str(ports["metrics"]),
        VRS_CONN_HEAD_TIMEOUT_S=str(HEAD_TIMEOUT_S),
        VRS_QDRANT_DATA_DIR=str(folder / "qdrant"),
    )
    serve = VrsProcess("vrs-serve", folder, env, preexec=low_descriptor_limit)
    listeners = Listeners(ctx.host, ports)
    with running(serve):
        budget = _budget(serve)
        if budget is None or budget.get("descriptor_limit") != DESCRIPTOR_LIMIT:
            result.problems.append(f"the process did not run with {DESCRIPTOR_LIMIT} descriptors")
        else:
            result.notes.append(
                "budget: "
                + ", ".join(f"{k} {budget.get(k)}" for k in ("grpc_connections", "web_connections"))
                + f", metrics_connections {budget.get('metrics_connections')}"
                + f", reserved {budget.get('reserved')}"
            )
        for listener, head in FLOODS:
            _flood_one(result, listeners, listener, head)
        alive = serve.alive()
    log = serve.log_path.read_text(errors="replace")
    if not alive:
        result.problems.append("vrs serve died under the floods")
    if "out of system resource" in log or "Too many open files" in log:
        result.problems.append("the process ran out of descriptors (see its log)")
    summaries = log.count('"logger": "vrs.listeners.refusals"')
    logged = "; ".join(
        f"{listener}: " + ", ".join(f"{why} {n}" for why, n in counts.items())
        for listener, counts in refusals(log).items()
    )
    result.notes.append(f"{summaries} refusal summary lines logged ({logged or 'none'})")
    return result


def _flood_one(result: PhaseResult, listeners: Listeners, listener: str, head: bytes) -> None:
    """One flood held on `listener` while the others are asked every 0.25 s for twice the head
    deadline; the flooded one is asked too, until it answers (at most 3 deadlines more)."""
    flood_began = time.monotonic()
    held = flood(listeners.host, listeners.ports[listener], head)
    try:
        others = [name for name in LISTENERS if name != listener]
        unanswered = 0
        back: float | None = None
        while time.monotonic() - flood_began < HEAD_TIMEOUT_S * 2:
            for name in others:
                t0 = time.perf_counter()
                ok = listeners.check(name)
                result.requests += 1
                if ok:
                    result.latencies_s.append(time.perf_counter() - t0)
                else:
                    unanswered += 1
                    result.errors[f"UNANSWERED {name}"] += 1
            if back is None and listeners.check(listener):
                back = time.monotonic() - flood_began
            time.sleep(0.25)
        if back is None:
            waited = within(HEAD_TIMEOUT_S * 3, lambda: listeners.check(listener))
            back = None if waited is None else time.monotonic() - flood_began
        result.requests += 1
        if back is None:
            result.errors[f"UNANSWERED {listener}"] += 1
            result.problems.append(
                f"{listener} did not answer again within {HEAD_TIMEOUT_S * 5:.0f} s "
                "while its flood was held"
            )
        result.notes.append(
            f"{listener} flooded with {len(held)} idle connections sending {head.decode()!r}: "
            f"the others unanswered "
            f"{unanswered}x; {listener} answered "
            + ("never" if back is None else f"{back:.1f} s after the flood began")
        )
    finally:
        for sock in held:
            sock.close()


def refusals(log: str) -> dict[str, Counter[str]]:
    """The refusal counts the process logged (summary lines), by listener."""
    counts: dict[str, Counter[str]] = {}
    for line in log.splitlines():
        if '"logger": "vrs.listeners.refusals"' not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        counts.setdefault(str(record.get("listener")), Counter()).update(record.get("counts", {}))
    return counts
