"""The catalog events consumer's counters and backlog, read from the consumer on each scrape."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector


@dataclass(frozen=True)
class EventsSnapshot:
    """The consumer's counters and its last known backlog (None: Redis has not said)."""

    lag: int | None
    pending: int | None
    processed: int
    retried: int
    dead_lettered: int
    group_recreated: int
    consumers_removed: int


class EventsCollector(Collector):
    """Exports the consumer's own counters (the ones `vrs stats` shows): one source of truth."""

    def __init__(self, snapshot: Callable[[], EventsSnapshot]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        now = self._snapshot()
        for name, value, help_text in (
            ("vrs_events_processed", now.processed, "Catalog events applied and acknowledged."),
            ("vrs_events_retried", now.retried, "Failed attempts of catalog events, retried."),
            (
                "vrs_events_dead_lettered",
                now.dead_lettered,
                "Catalog events moved to the dead-letter stream.",
            ),
            (
                "vrs_events_group_recreated",
                now.group_recreated,
                "Times the consumer group was found missing and created again.",
            ),
            (
                "vrs_events_consumers_removed",
                now.consumers_removed,
                "Idle consumers without pending entries removed from the group.",
            ),
        ):
            yield CounterMetricFamily(name, help_text, value=value)
        if now.lag is not None:
            yield GaugeMetricFamily(
                "vrs_events_lag",
                "Entries of the stream not yet acknowledged by the group (undelivered + pending).",
                value=now.lag,
            )
        if now.pending is not None:
            yield GaugeMetricFamily(
                "vrs_events_pending",
                "Entries delivered but not yet acknowledged.",
                value=now.pending,
            )
