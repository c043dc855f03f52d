"""The catalog events consumer's counters and backlog, read from the consumer on each scrape."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector


@dataclass
class EventCounters:
    """What an events consumer did since it started: `vrs stats`, /metrics and the logs all
    read this one object."""

    processed: int = 0
    retried: int = 0
    dead_lettered: int = 0
    # Times the consumer group was found missing and created again (Redis lost its data).
    group_recreated: int = 0
    # Idle consumers without pending entries removed from the group.
    consumers_removed: int = 0

    def copy(self) -> EventCounters:
        return EventCounters(**{f.name: getattr(self, f.name) for f in fields(self)})


@dataclass(frozen=True)
class EventsStatus:
    """Where a consumer stands: its stream and group, the group's backlog (entries not yet
    delivered plus delivered but unacknowledged; None when Redis did not say), its counters."""

    stream: str
    group: str
    lag: int | None
    pending: int | None
    counters: EventCounters


class EventsCollector(Collector):
    """Exports the consumer's own counters (the ones `vrs stats` shows): one source of truth."""

    def __init__(self, snapshot: Callable[[], EventsStatus]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        now = self._snapshot()
        counted = now.counters
        for name, value, help_text in (
            ("vrs_events_processed", counted.processed, "Catalog events applied and acknowledged."),
            ("vrs_events_retried", counted.retried, "Failed attempts of catalog events, retried."),
            (
                "vrs_events_dead_lettered",
                counted.dead_lettered,
                "Catalog events moved to the dead-letter stream.",
            ),
            (
                "vrs_events_group_recreated",
                counted.group_recreated,
                "Times the consumer group was found missing and created again.",
            ),
            (
                "vrs_events_consumers_removed",
                counted.consumers_removed,
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
