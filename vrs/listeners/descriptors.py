"""The process's file-descriptor budget: every listener gets a connection cap below it, and a
reserve is kept for what the process itself opens (Redis, Qdrant, image fetches, model and
data files, the other listeners), so a flood on one port never starves another."""

from __future__ import annotations

import logging
import resource
from dataclasses import dataclass

from vrs.errors import ConfigurationError

log = logging.getLogger(__name__)

# Whatever the limit, a listener holding more idle connections than this is being attacked.
MAX_CONNECTIONS_PER_LISTENER = 4096
MIN_RESERVE = 64
METRICS_CONNECTIONS = 16


def raise_soft_limit() -> tuple[int, int]:
    """Raises the soft RLIMIT_NOFILE to the hard one; (soft before, soft now)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1_048_576)
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft, soft
    return soft, resource.getrlimit(resource.RLIMIT_NOFILE)[0]


@dataclass(frozen=True)
class ConnectionCaps:
    """How many connections each listener of the process may hold at once (0: no listener)."""

    limit: int
    reserve: int
    grpc: int
    web: int
    metrics: int

    def describe(self) -> dict[str, int]:
        return {
            "descriptor_limit": self.limit,
            "reserved": self.reserve,
            "grpc_connections": self.grpc,
            "web_connections": self.web,
            "metrics_connections": self.metrics,
        }


def plan_caps(
    limit: int, *, grpc: bool, web: bool, metrics: bool, reserve: int | None = None
) -> ConnectionCaps:
    """The caps of the listeners a process has, under a descriptor `limit`: a reserve (a
    quarter of the limit, at least 64, or `reserve`), a few for /metrics, the rest shared
    evenly by gRPC and the web gateway."""
    kept = max(MIN_RESERVE, limit // 4) if reserve is None else reserve
    available = limit - kept
    metrics_cap = min(METRICS_CONNECTIONS, max(1, available // 16)) if metrics else 0
    sharing = int(grpc) + int(web)
    share = (available - metrics_cap) // sharing if sharing else 0
    if share < 8 and sharing:
        raise ConfigurationError(
            f"a descriptor limit of {limit} (ulimit -n) leaves {share} connections per listener "
            f"after a reserve of {kept}: raise the limit"
        )
    share = min(share, MAX_CONNECTIONS_PER_LISTENER)
    return ConnectionCaps(limit, kept, share if grpc else 0, share if web else 0, metrics_cap)


def process_caps(
    *, grpc: bool, web: bool, metrics: bool, reserve: int | None = None
) -> ConnectionCaps:
    """This process's caps, after raising its soft limit; the plan is logged once."""
    before, limit = raise_soft_limit()
    caps = plan_caps(limit, grpc=grpc, web=web, metrics=metrics, reserve=reserve)
    log.info(
        "connection budget",
        extra={**caps.describe(), "soft_limit_raised_from": before},
    )
    return caps
