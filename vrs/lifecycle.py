"""What every vrs server does at the end of its life: wait for a stop signal, close what it
holds. Shared by the gRPC servers and the web gateway."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence

log = logging.getLogger(__name__)

Closer = Callable[[], Awaitable[None]]


async def wait_for_stop_signal() -> None:
    """Until SIGTERM or SIGINT reaches this process."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def close_all(closers: Sequence[Closer]) -> None:
    """Each closer, last opened first; one that fails is logged and the rest still run."""
    for close in reversed(closers):
        try:
            await close()
        except Exception:
            log.exception("error while closing a resource")
