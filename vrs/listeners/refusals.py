"""Connections a listener refused or closed early, counted and said once per interval: a flood
of thousands costs one log line every few seconds, never one per accept."""

from __future__ import annotations

import logging
import time
from collections import Counter

log = logging.getLogger(__name__)


class RefusalLog:
    """Counts refusals by reason; `count` logs the totals at most once per `every_s`."""

    def __init__(self, listener: str, every_s: float = 10.0) -> None:
        self._listener = listener
        self._every_s = every_s
        self._counts: Counter[str] = Counter()
        self._since = time.monotonic()
        # Since the listener started, by reason (/metrics).
        self.totals: Counter[str] = Counter()

    def count(self, reason: str) -> None:
        self._counts[reason] += 1
        self.totals[reason] += 1
        if time.monotonic() - self._since >= self._every_s:
            self.flush()

    def flush(self) -> None:
        """Log what was counted since the last line, if anything."""
        if self._counts:
            log.warning(
                "connections refused or closed early",
                extra={
                    "listener": self._listener,
                    "counts": dict(self._counts),
                    "over_s": round(time.monotonic() - self._since, 1),
                },
            )
            self._counts.clear()
        self._since = time.monotonic()
