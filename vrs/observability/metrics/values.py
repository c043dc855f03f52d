"""Reading a metric's current value, for `GetStats` (the same counters as /metrics)."""

from __future__ import annotations

from prometheus_client.registry import Collector


def sample_sum(collector: Collector, sample_name: str, **labels: str) -> float:
    """The sum of `collector`'s samples named `sample_name` whose labels include `labels`."""
    total = 0.0
    for family in collector.collect():
        for sample in family.samples:
            if sample.name == sample_name and all(
                sample.labels.get(key) == value for key, value in labels.items()
            ):
                total += sample.value
    return total


def count(collector: Collector, sample_name: str, **labels: str) -> int:
    """sample_sum as a whole number (counters and histogram counts)."""
    return round(sample_sum(collector, sample_name, **labels))
