"""Work left running in the background whose outcome nobody may await: its failure is still
read (and logged at DEBUG), never left for asyncio's "exception was never retrieved"."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)


def observe(work: asyncio.Future[Any], what: str) -> None:
    """Read `work`'s exception when it ends, whoever else does or does not."""

    def read(done: asyncio.Future[Any]) -> None:
        if done.cancelled():
            return
        error = done.exception()
        if error is not None:
            log.debug("background work failed", extra={"work": what, "error": repr(error)})

    work.add_done_callback(read)
