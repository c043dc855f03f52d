"""Identical concurrent work runs once; every caller gets its result."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from vrs.background import observe

T = TypeVar("T")


class SingleFlight(Generic[T]):
    """Identical concurrent calls run once; every caller gets the one result."""

    def __init__(self) -> None:
        # Only keys with work in flight are held: the map is bounded by concurrency.
        self._flights: dict[str, asyncio.Future[T]] = {}

    async def do(self, key: str, work: Callable[[], Awaitable[T]]) -> T:
        flight = self._flights.get(key)
        if flight is None:
            flight = asyncio.ensure_future(self._run(key, work))
            # Every caller may have given up before it fails: its error is still read.
            observe(flight, f"single flight {key[:80]}")
            self._flights[key] = flight
        # shield: one caller giving up (deadline, cancel) must not cancel the others' work.
        return await asyncio.shield(flight)

    async def _run(self, key: str, work: Callable[[], Awaitable[T]]) -> T:
        try:
            return await work()
        finally:
            self._flights.pop(key, None)
