"""The callers a server admits, re-read when the tokens file changes (no restart)."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from vrs.auth.tokens import CallerTable, TokensFileError, parse_tokens_file
from vrs.errors import ConfigurationError

log = logging.getLogger(__name__)

# Kubernetes updates a mounted Secret by swapping a symlink: the path's target changes inode.
_FileVersion = tuple[int, int, int, int]


class CallerRegistry:
    """The current caller table; the tokens file is checked at most every `reload_s`."""

    def __init__(self, path: Path | None, reload_s: float) -> None:
        self._path = path
        self._reload_s = reload_s
        self._table = CallerTable()
        self._version: _FileVersion | None = None
        self._next_check = 0.0
        self._lock = asyncio.Lock()

    @classmethod
    def load(cls, path: Path | None, reload_s: float) -> CallerRegistry:
        """Reads the file now (at startup): an unreadable or invalid file refuses the start."""
        registry = cls(path, reload_s)
        if path is not None:
            try:
                registry._version, registry._table = _read(path)
            except (OSError, TokensFileError, UnicodeDecodeError) as exc:
                raise ConfigurationError(f"VRS_AUTH_TOKENS_FILE {path}: {_describe(exc)}") from None
            log.info("callers loaded", extra={"path": str(path), "callers": len(registry._table)})
        registry._next_check = time.monotonic() + reload_s
        return registry

    def fresh(self) -> CallerTable | None:
        """The table when no check of the file is due (most calls), else None: await
        table() then."""
        if self._path is None or time.monotonic() < self._next_check:
            return self._table
        return None

    async def table(self) -> CallerTable:
        if self._path is None or time.monotonic() < self._next_check:
            return self._table
        async with self._lock:
            # Calls that waited here see the table the first one loaded.
            if time.monotonic() >= self._next_check:
                await asyncio.to_thread(self._reload_if_changed, self._path)
                self._next_check = time.monotonic() + self._reload_s
        return self._table

    def _reload_if_changed(self, path: Path) -> None:
        try:
            if _version(path) == self._version:
                return
            self._version, self._table = _read(path)
        except Exception as exc:
            # A half-written or broken file must not lock every caller out (or let anyone
            # in): the last good table stays until the file is fixed.
            log.error(
                "tokens file not reloaded, keeping the previous callers: %s",
                _describe(exc),
                extra={"path": str(path)},
            )
            return
        log.info("callers reloaded", extra={"path": str(path), "callers": len(self._table)})


def _version(path: Path) -> _FileVersion:
    st = path.stat()
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _read(path: Path) -> tuple[_FileVersion, CallerTable]:
    # The version is taken before the read: a change during the read is seen next time.
    version = _version(path)
    return version, parse_tokens_file(path.read_text(encoding="utf-8"))


def _describe(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return f"cannot read it: {exc.strerror or type(exc).__name__}"
    if isinstance(exc, TokensFileError):
        return str(exc)
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    # Nothing else is expected; its message might quote the file, so only its type.
    return f"unexpected {type(exc).__name__}"
