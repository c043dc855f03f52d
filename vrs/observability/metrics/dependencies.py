"""Whether the process reaches Redis and Qdrant: an up gauge per dependency, set on the calls it
makes anyway (no probes), and a count of the calls that failed to reach it."""

from __future__ import annotations

from prometheus_client import Counter, Gauge
from prometheus_client.registry import Collector


class DependencyHealth:
    """`vrs_<name>_up` (1 while calls reach it, 0 after one failed to) and
    `vrs_<name>_failures_total`; the gauge is written only when it changes."""

    def __init__(self, name: str, what: str) -> None:
        self._up = Gauge(
            f"vrs_{name}_up",
            f"1 while this process's last call to {what} reached it; 0 after one did not.",
            registry=None,
        )
        self._failures = Counter(
            f"vrs_{name}_failures",
            f"Calls from this process that could not reach {what} (down, slow or refused).",
            registry=None,
        )
        self._reaching = True
        self._up.set(1)

    def reached(self) -> None:
        if not self._reaching:
            self._reaching = True
            self._up.set(1)

    def failed(self) -> None:
        self._failures.inc()
        if self._reaching:
            self._reaching = False
            self._up.set(0)

    def collectors(self) -> list[Collector]:
        return [self._up, self._failures]
