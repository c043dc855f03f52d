"""What one drill phase found, the verdict over all of them, and the table `make drill` prints."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from benchmarks.load_report import percentile

# Status codes that say the caller sent something wrong: the only answers bad input may get.
CLIENT_CODES = frozenset(
    {
        "INVALID_ARGUMENT",
        "NOT_FOUND",
        "FAILED_PRECONDITION",
        "OUT_OF_RANGE",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "UNAUTHENTICATED",
    }
)
REASON_LIMIT = 240  # characters of one reason in the verdict line


def is_client_error(key: str) -> bool:
    """A gRPC code name of the caller's making, or "HTTP 4xx"."""
    if key.startswith("HTTP "):
        status = key.removeprefix("HTTP ")
        return status.isdigit() and 400 <= int(status) < 500
    return key in CLIENT_CODES


@dataclass
class PhaseResult:
    """One fault: the calls made, their failures by code, the writes acknowledged and found
    afterwards, and what the phase found wrong (problems) or worth saying (notes)."""

    name: str
    fault: str
    requests: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    # Writes the system acknowledged (an OK answer, an XADD id) and those found afterwards;
    # None: the fault writes nothing.
    acked: int | None = None
    found: int | None = None
    latencies_s: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Error keys the fault expects (bad input's client errors, poison events' dead letters).
    allowed_errors: frozenset[str] = frozenset()
    client_errors_allowed: bool = False
    elapsed_s: float = 0.0

    def p99_ms(self) -> float | None:
        if not self.latencies_s:
            return None
        return percentile(self.latencies_s, 99) * 1000

    def unexpected_errors(self) -> Counter[str]:
        return Counter(
            {
                key: n
                for key, n in self.errors.items()
                if n
                and key not in self.allowed_errors
                and not (self.client_errors_allowed and is_client_error(key))
            }
        )


def not_run(name: str, fault: str, why: str) -> PhaseResult:
    """A phase that did not run (the time limit, a crash of the drill itself): a failure."""
    return PhaseResult(name, fault, problems=[f"not run: {why}"])


def failures(result: PhaseResult) -> list[str]:
    """Why this phase fails the drill; empty when it passes."""
    reasons = list(result.problems)
    unexpected = result.unexpected_errors()
    if unexpected:
        reasons.append(f"{sum(unexpected.values())} failed calls ({format_errors(unexpected)})")
    if result.acked is not None and result.found != result.acked:
        missing = result.acked - (result.found or 0)
        reasons.append(f"{missing} of {result.acked} acknowledged writes not found afterwards")
    return [f"{result.name}: {reason}" for reason in reasons]


def verdict(results: Sequence[PhaseResult]) -> tuple[bool, list[str]]:
    """PASS when at least one phase ran and none failed; the reasons otherwise."""
    reasons = [reason for result in results for reason in failures(result)]
    if not results:
        reasons.append("no phase ran")
    return not reasons, reasons


def verdict_line(ok: bool, reasons: Sequence[str]) -> str:
    """The drill's last line: `drill: PASS` or `drill: FAIL (reasons)`, on one line."""
    if ok:
        return "drill: PASS"
    shown = [" ".join(reason.split())[:REASON_LIMIT] for reason in reasons]
    return f"drill: FAIL ({'; '.join(shown)})"


def format_errors(errors: Counter[str]) -> str:
    """`0`, or the codes by count: `UNAVAILABLE x3, HTTP 503 x1`."""
    items = sorted(((key, n) for key, n in errors.items() if n), key=lambda kv: (-kv[1], kv[0]))
    if not items:
        return "0"
    return ", ".join(f"{key} x{n}" for key, n in items)


COLUMNS = ("fault", "requests", "errors by code", "writes acked/found", "p99 ms", "result")
ERRORS_WIDTH = 40


def table_rows(results: Sequence[PhaseResult]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for result in results:
        p99 = result.p99_ms()
        writes = "-" if result.acked is None else f"{result.acked}/{result.found or 0}"
        rows.append(
            (
                result.fault,
                str(result.requests),
                format_errors(result.errors),
                writes,
                "-" if p99 is None else f"{p99:.1f}",
                "FAIL" if failures(result) else "ok",
            )
        )
    return rows


def wrap_cell(text: str, width: int) -> list[str]:
    """A cell's lines: `a x1, b x2, ...` broken after commas to fit width where it can."""
    lines: list[str] = []
    for part in text.split(", "):
        if lines and len(lines[-1]) + 2 + len(part) <= width:
            lines[-1] += f", {part}"
        else:
            if lines:
                lines[-1] += ","
            lines.append(part)
    return lines or [""]


def render_table(results: Sequence[PhaseResult]) -> str:
    """One row per fault under a header, columns as wide as their widest cell (the errors
    column wrapped at ERRORS_WIDTH, its further lines under it)."""
    errors_column = COLUMNS.index("errors by code")
    rows: list[tuple[str, ...]] = [COLUMNS]
    for row in table_rows(results):
        first, *more = wrap_cell(row[errors_column], ERRORS_WIDTH)
        rows.append((*row[:errors_column], first, *row[errors_column + 1 :]))
        for extra in more:
            blank = [""] * len(COLUMNS)
            blank[errors_column] = extra
            rows.append(tuple(blank))
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    numeric = {1, 3, 4}

    def line(row: tuple[str, ...]) -> str:
        cells = [
            cell.rjust(width) if i in numeric else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(rows[0]), rule, *(line(row) for row in rows[1:])])


def render_report(results: Sequence[PhaseResult], header: Sequence[str]) -> str:
    """The header lines, the table, each phase's notes and failures, and the verdict line."""
    ok, reasons = verdict(results)
    lines = [*header, "", render_table(results), ""]
    for result in results:
        extra = [*result.notes, *(f"FAILED: {r}" for r in failures(result))]
        if extra:
            lines.append(f"{result.name} ({result.elapsed_s:.0f} s):")
            lines.extend(f"  {text}" for text in extra)
    lines.append(verdict_line(ok, reasons))
    return "\n".join(lines)
