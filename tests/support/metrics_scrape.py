"""Scraping a process's /metrics over HTTP, as Prometheus does, and reading samples from it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

METRICS_ON = {"metrics_port": 0}  # the `obs` section of a server that serves /metrics


@dataclass(frozen=True)
class Scrape:
    """One scrape: every sample, by name."""

    samples: list[Sample]
    types: dict[str, str]

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples named `name` whose labels include `labels` (0: none)."""
        return sum(
            s.value
            for s in self.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        )

    def has(self, name: str) -> bool:
        return any(s.name == name for s in self.samples)


async def scrape(port: int) -> Scrape:
    """GET http://127.0.0.1:<port>/metrics, parsed."""
    async with httpx.AsyncClient(timeout=5.0) as client:
        response = await client.get(f"http://127.0.0.1:{port}/metrics")
    response.raise_for_status()
    families = list(text_string_to_metric_families(response.text))
    return Scrape(
        [sample for family in families for sample in family.samples],
        {family.name: family.type for family in families},
    )


def delta(before: Scrape, after: Scrape, name: str, **labels: str) -> float:
    return after.value(name, **labels) - before.value(name, **labels)


def listening_tcp_ports() -> set[int]:
    """TCP ports this process listens on (its own sockets only, whatever else runs here)."""
    inodes = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            listening = fields[3] == "0A"
            if listening and fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports
