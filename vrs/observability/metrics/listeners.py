"""The HTTP listeners of a process as Prometheus sees them: open connections against their cap,
and connections refused or closed early, by reason (read from the listeners on each scrape)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector


class _Refusals(Protocol):
    @property
    def totals(self) -> Counter[str]: ...


class Listener(Protocol):
    """What the collector reads of a listener."""

    @property
    def name(self) -> str: ...

    @property
    def open_connections(self) -> int: ...

    @property
    def max_connections(self) -> int: ...

    @property
    def refusals(self) -> _Refusals: ...


class ListenerCollector(Collector):
    """vrs_http_connections, vrs_http_max_connections and vrs_http_refused_total, by listener."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def watch(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def collect(self) -> Iterator[Metric]:
        open_now = GaugeMetricFamily(
            "vrs_http_connections", "Connections open on an HTTP listener.", labels=["listener"]
        )
        cap = GaugeMetricFamily(
            "vrs_http_max_connections",
            "Most connections an HTTP listener holds at once (beyond it: closed at once).",
            labels=["listener"],
        )
        refused = CounterMetricFamily(
            "vrs_http_refused",
            "Connections an HTTP listener refused or closed early, by reason.",
            labels=["listener", "reason"],
        )
        for listener in self._listeners:
            open_now.add_metric([listener.name], listener.open_connections)
            cap.add_metric([listener.name], listener.max_connections)
            for reason, count in listener.refusals.totals.items():
                refused.add_metric([listener.name, reason], count)
        yield from (open_now, cap, refused)
