"""`make drill`: the faults the hardening issues tested, one phase each, in one bounded run on
this machine (loopback only).

    make drill    (or: python -m benchmarks.drill [--only PHASE,...] [--time-limit S] ...)

Each phase starts what it breaks: `vrs serve` processes (efficientnet_lite0 with random weights
unless the caller's VRS_MODEL_* say otherwise; no other VRS_* variable of the caller's applies),
throwaway redis-servers on free ports, data in a temporary folder; all of it is stopped when the
phase ends, on failure and Ctrl-C too.

  redis-loss    Redis kill -9 under a mixed gRPC load, restarted empty: no call fails, every
                acknowledged upsert is stored, cache and events group come back
  redis-freeze  Redis SIGSTOPped ~8 s while the events consumer applies 200 price updates: no
                dead letter, every final price right; drain time and rate vs the normal rate
  replica-kill  one of two embedder replicas kill -9 under SearchByImage load through a
                separate search process (round_robin over both): no call fails. The search
                process is search's own assembly over a Qdrant Edge store of its own
                (benchmarks/drill_search_host.py): `vrs serve --service search` needs a
                Qdrant server, and none runs here
  floods        400 idle half-requests on each listener in turn of a process limited to 256
                descriptors: the other listeners answer throughout, the flooded one again
                while the flood is held
  poison-burst  300 catalog events with a dozen poison ones, the consumer kill -9 mid-way and
                restarted: the store equals the valid events applied once in order, the
                poison events (and only they) dead-lettered
  bad-inputs    malformed input on every gRPC method and HTTP endpoint: client errors only
                (never INTERNAL, UNKNOWN, HTTP 5xx), the server healthy after

Prints one row per fault (requests, errors by gRPC/HTTP code, writes acknowledged and found
afterwards, p99 latency) and ends with `drill: PASS` (exit 0) or `drill: FAIL (reasons)`
(exit 1); a refused host exits 2. The logs stay in the work folder when the drill fails.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from benchmarks import (
    drill_bad_inputs,
    drill_floods,
    drill_freeze,
    drill_poison,
    drill_redis_loss,
    drill_replica,
)
from benchmarks.drill_catalog import DrillContext
from benchmarks.drill_procs import NotLoopback, drill_env, require_loopback
from benchmarks.drill_report import PhaseResult, failures, not_run, render_report, verdict
from benchmarks.machine import cpu_model

Phase = Callable[[DrillContext], PhaseResult]
PHASES: dict[str, tuple[str, Phase]] = {
    module.NAME: (module.FAULT, module.run)
    for module in (
        drill_redis_loss,
        drill_freeze,
        drill_replica,
        drill_floods,
        drill_poison,
        drill_bad_inputs,
    )
}
DEFAULT_TIME_LIMIT_S = 300.0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.drill",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="PHASE[,PHASE]",
        help=f"run these phases only (repeatable): {', '.join(PHASES)}",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=DEFAULT_TIME_LIMIT_S,
        help="seconds for the whole drill; phases not begun by then fail as not run",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="loopback address every process binds and dials"
    )
    parser.add_argument(
        "--workdir", type=Path, help="folder for data and logs, kept (default: a temporary one)"
    )
    args = parser.parse_args(argv)
    names = [name.strip() for entry in args.only for name in entry.split(",") if name.strip()]
    unknown = [name for name in names if name not in PHASES]
    if unknown:
        parser.error(f"unknown phase {', '.join(unknown)}; phases: {', '.join(PHASES)}")
    args.phases = [name for name in PHASES if name in names] if names else list(PHASES)
    if not 10 <= args.time_limit <= 3600:
        parser.error("--time-limit must be 10..3600 s")
    return args


def _interrupted(signum: int, frame: FrameType | None) -> None:
    # SIGTERM as Ctrl-C: the phases' blocks stop what they started on the way out.
    raise KeyboardInterrupt


def run_phase(name: str, context: DrillContext) -> PhaseResult:
    """One phase; a crash of the drill's own setup is that phase's failure, not the run's."""
    fault, phase = PHASES[name]
    started = time.monotonic()
    try:
        result = phase(context)
    except Exception as exc:
        detail = "".join(traceback.format_exception_only(exc)).strip()
        result = PhaseResult(name, fault, problems=[detail.splitlines()[0]])
        result.notes.append(detail)
    result.elapsed_s = time.monotonic() - started
    return result


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        host = require_loopback(args.host)
    except NotLoopback as exc:
        print(f"drill: {exc}", file=sys.stderr)
        return 2
    previous = signal.signal(signal.SIGTERM, _interrupted)
    started = time.monotonic()
    env = drill_env(host)
    keep = args.workdir is not None
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="vrs-drill-"))
    workdir.mkdir(parents=True, exist_ok=True)
    context = DrillContext(workdir, host, env, started + args.time_limit)
    results: list[PhaseResult] = []
    try:
        for name in args.phases:
            if context.remaining_s() <= 0:
                results.append(not_run(name, PHASES[name][0], "--time-limit reached"))
                continue
            print(f"drill: {name}: {PHASES[name][0]} ...", flush=True)
            result = run_phase(name, context)
            results.append(result)
            outcome = "FAIL" if failures(result) else "ok"
            print(f"drill: {name}: {outcome} in {result.elapsed_s:.0f} s", flush=True)
    except KeyboardInterrupt:
        done = {r.name for r in results}
        left = [name for name in args.phases if name not in done]
        if left:  # the phase under way, stopped with everything it had started
            results.append(PhaseResult(left[0], PHASES[left[0]][0], problems=["interrupted"]))
        results += [not_run(name, PHASES[name][0], "interrupted") for name in left[1:]]
    finally:
        signal.signal(signal.SIGTERM, previous)
    ok, _ = verdict(results)
    header = [
        f"cpu: {cpu_model()} ({os.cpu_count()} logical CPUs)",
        f"model: {env['VRS_MODEL_BACKBONE']}, weights {env['VRS_MODEL_WEIGHTS']}",
        f"wall time: {time.monotonic() - started:.0f} s (limit {args.time_limit:.0f} s)",
    ]
    if ok and not keep:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        header.append(f"data and logs: {workdir}")
    print()
    print(render_report(results, header))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
