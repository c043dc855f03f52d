"""The catalog-events stream as the drill watches it: the consumer group's backlog, and bounded
waits on it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

# The settings' defaults (VRS_EVENTS_STREAM, _GROUP, _DEAD_LETTER_STREAM).
STREAM = "vrs:catalog-events"
GROUP = "vrs-embedder"
DEAD = "vrs:catalog-events:dead"


@dataclass(frozen=True)
class Backlog:
    """The group's state: entries not yet delivered (lag; None when Redis cannot tell),
    delivered but not acknowledged (pending), and delivered so far (read)."""

    lag: int | None
    pending: int
    read: int

    @property
    def left(self) -> int:
        return (self.lag or 0) + self.pending

    @property
    def settled(self) -> bool:
        return self.lag == 0 and self.pending == 0


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def backlog(client: redis.Redis) -> Backlog | None:
    """The group's backlog; None while the stream or the group does not exist."""
    if not client.exists(STREAM):
        return None
    for group in client.xinfo_groups(STREAM):
        name = group["name"]
        if (name.decode() if isinstance(name, bytes) else name) == GROUP:
            return Backlog(
                _int(group.get("lag")),
                _int(group.get("pending")) or 0,
                _int(group.get("entries-read")) or 0,
            )
    return None


def settled(client: redis.Redis) -> bool:
    state = backlog(client)
    return state is not None and state.settled


def wait_until(check: Callable[[], bool], limit_s: float, every_s: float = 0.05) -> float | None:
    """Seconds until check() held, or None when it did not within limit_s (Redis errors
    count as not yet)."""
    started = time.monotonic()
    while True:
        try:
            if check():
                return time.monotonic() - started
        except (redis.RedisError, OSError):
            pass
        if time.monotonic() - started > limit_s:
            return None
        time.sleep(every_s)


def events_env(redis_url: str, **overrides: str) -> dict[str, str]:
    """Settings of a `vrs serve` that consumes the catalog events."""
    return {"VRS_REDIS_URL": redis_url, "VRS_EVENTS_ENABLED": "true", **overrides}
