"""The load test's printed table, and the server's resident memory."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

from benchmarks.load_mix import KINDS, LevelResult


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def rss_mib(pid: int | None) -> str:
    """VmRSS of process `pid` in MiB, or why it is unknown."""
    if pid is None:
        return "n/a (pass --server-pid)"
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return f"{int(line.split()[1]) / 1024:.0f} MiB"
    except (OSError, ValueError, IndexError) as exc:
        return f"n/a ({type(exc).__name__})"
    return "n/a (no VmRSS)"


def level_table(result: LevelResult) -> str:
    """Throughput, p50/p95/p99, errors and cache answers per RPC kind at one level."""
    lines = [
        f"concurrency {result.concurrency}: {result.calls} calls in {result.elapsed_s:.1f} s "
        f"({result.calls / result.elapsed_s:.1f}/s), {result.errors} errors",
        f"  {'rpc':26} {'calls':>6} {'per s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'errors':>6} {'from cache':>10}",
    ]
    failures: Counter[str] = Counter()
    for kind in KINDS:
        stats = result.kinds[kind]
        errors = sum(stats.errors.values())
        done = len(stats.latencies_s)
        if done:
            p50, p95, p99 = (percentile(stats.latencies_s, q) * 1000 for q in (50, 95, 99))
            timing = f"{p50:8.1f} {p95:8.1f} {p99:8.1f}"
        else:
            timing = f"{'-':>8} {'-':>8} {'-':>8}"
        cached = f"{stats.from_cache / done:.0%}" if done and kind.startswith("Search") else "-"
        lines.append(
            f"  {kind:26} {done + errors:6d} {(done + errors) / result.elapsed_s:7.1f} "
            f"{timing} {errors:6d} {cached:>10}"
        )
        failures.update({f"{kind}: {code}": n for code, n in stats.errors.items()})
    lines.extend(f"  error {what} x{n}" for what, n in sorted(failures.items()))
    return "\n".join(lines)
