"""Bounding the memory of large image decodes: few at once, their memory handed back after."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


class LargeDecodeGate:
    """Decodes of more than `pixels` pixels each take one of `concurrency` slots, so at most
    that many full-size images sit in memory at once; when one ends, freed memory goes back
    to the OS.

    A decode thread waits for its slot (blocking it is fine: the decode pool is bounded).
    """

    def __init__(self, pixels: int, concurrency: int) -> None:
        self.pixels = pixels
        self._slots = threading.BoundedSemaphore(concurrency)

    @contextmanager
    def admit(self, pixels: int) -> Iterator[None]:
        """Hold a slot for the body if `pixels` make the decode large."""
        if pixels <= self.pixels:
            yield
            return
        try:
            with self._slots:
                yield
        finally:
            release_free_memory()


def release_free_memory() -> None:
    """Hand memory freed by the allocator back to the OS, where the platform allows it.

    glibc keeps freed memory in its (per-thread) arenas for reuse: after a 150 MB decode in a
    pool thread the process would keep that much resident for good. malloc_trim returns the
    free pages of every arena.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim  # glibc only (musl has none)
    except (OSError, AttributeError):
        log.info("malloc_trim unavailable: freed decode memory stays with the allocator")
        return None
    return trim
