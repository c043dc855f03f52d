"""file:// images: regular files inside the root only, read in a bounded pool with a deadline."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import unquote

from vrs.errors import InvalidImage, Unavailable, UriRefused, VrsError
from vrs.images.uri import ImageUri

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
# O_NONBLOCK: opening a FIFO that slipped past the stat check returns at once instead of
# waiting for a writer. O_NOFOLLOW: the path is already resolved, so a symlink here was
# swapped in after the root check.
_OPEN_FLAGS = (
    os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
)
_REFUSED_ERRNOS = {errno.ENAMETOOLONG, errno.ELOOP}


class FileImageReader:
    """Reads file:// image URIs; `close` never waits for a read that hangs."""

    def __init__(self, root: Path | None, max_bytes: int, workers: int, timeout_s: float) -> None:
        self._root = root.resolve() if root else None
        self._max_bytes = max_bytes
        self._timeout_s = timeout_s
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="vrs-file-read")
        # One slot per thread, released when the thread is done (not when the caller gives
        # up), so reads that hang past their deadline cannot pile up in the pool's queue.
        self._slots = asyncio.Semaphore(workers)

    async def read(self, uri: ImageUri) -> bytes:
        root, raw_path = self._checked_path(uri)
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._timeout_s):
                await self._slots.acquire()
                try:
                    future = self._pool.submit(self._read, root, raw_path, uri.shown)
                except RuntimeError as exc:
                    self._slots.release()
                    raise Unavailable("image file", "the file reader is closed") from exc
                future.add_done_callback(lambda _: _release_from_thread(loop, self._slots))
                return await asyncio.wrap_future(future)
        except TimeoutError as exc:
            raise Unavailable(
                "image file", f"{uri.shown!r} could not be read within {self._timeout_s}s"
            ) from exc

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _checked_path(self, uri: ImageUri) -> tuple[Path, str]:
        if self._root is None:
            raise UriRefused(
                f"image URI {uri.shown!r}: file:// URIs are off (VRS_IMAGE_FILE_ROOT unset)"
            )
        if uri.netloc.lower() not in ("", "localhost"):
            raise UriRefused(f"image URI {uri.shown!r}: file:// URIs must not name a host")
        raw_path = unquote(uri.path)
        if not raw_path.startswith("/"):
            raise UriRefused(f"image URI {uri.shown!r}: the path must be absolute")
        if "\x00" in raw_path:
            raise UriRefused(f"image URI {uri.shown!r}: the path contains a NUL byte")
        return self._root, raw_path

    def _read(self, root: Path, raw_path: str, shown: str) -> bytes:
        try:
            return self._read_regular(root, raw_path, shown)
        except VrsError:
            raise
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise InvalidImage(f"image URI {shown!r}: no such file") from exc
        except PermissionError as exc:
            raise InvalidImage(f"image URI {shown!r}: permission denied") from exc
        except OSError as exc:
            if exc.errno in _REFUSED_ERRNOS:
                raise UriRefused(f"image URI {shown!r}: {exc.strerror}") from exc
            raise Unavailable("image file", f"{shown!r}: {exc.strerror}") from exc
        except RuntimeError as exc:  # Path.resolve on a symlink loop (Python 3.11)
            raise UriRefused(f"image URI {shown!r}: symlink loop") from exc
        except Exception as exc:
            log.exception("unexpected error reading an image file", extra={"uri": shown})
            raise Unavailable("image file", f"{shown!r}: {type(exc).__name__}") from exc

    def _read_regular(self, root: Path, raw_path: str, shown: str) -> bytes:
        # resolve() follows symlinks and collapses '..', so the check sees the real location.
        path = Path(raw_path).resolve()
        if not path.is_relative_to(root):
            raise UriRefused(f"image URI {shown!r} is outside the allowed image root {root}")
        # Checked before opening: opening a device can have side effects of its own.
        self._check_regular(path.stat(), shown)
        fd = os.open(path, _OPEN_FLAGS)
        try:
            self._check_regular(os.fstat(fd), shown)
            chunks: list[bytes] = []
            size = 0
            # The file may grow after fstat: read at most one byte past the limit.
            while size <= self._max_bytes:
                chunk = os.read(fd, min(_CHUNK, self._max_bytes + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            self._check_size(size, shown)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def _check_regular(self, info: os.stat_result, shown: str) -> None:
        if stat.S_ISDIR(info.st_mode):
            raise InvalidImage(f"image URI {shown!r} is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise UriRefused(
                f"image URI {shown!r} is not a regular file (a FIFO, socket or device)"
            )
        self._check_size(info.st_size, shown)

    def _check_size(self, size: int, shown: str) -> None:
        if size > self._max_bytes:
            raise InvalidImage(
                f"image {shown} is {size} bytes, above the limit of {self._max_bytes}"
            )


def _release_from_thread(loop: asyncio.AbstractEventLoop, slots: asyncio.Semaphore) -> None:
    # A closed loop raises RuntimeError: nobody is left waiting for a slot then.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(slots.release)
