"""Registering metric groups into a process's registry."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry
from prometheus_client.registry import Collector


def register(registry: CollectorRegistry, collectors: Iterable[Collector]) -> None:
    """Register each collector into `registry`, the process's."""
    for collector in collectors:
        registry.register(collector)
