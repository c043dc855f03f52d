"""Files loaded into something a server uses (gRPC credentials, an SSLContext), loaded again
when they change: a bad change is logged and the last good load stays in use."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from vrs.errors import ConfigurationError
from vrs.tls.files import FilesChanging, SettingFile, signature

log = logging.getLogger(__name__)
T = TypeVar("T")


class ReloadingFiles(Generic[T]):
    """`load(log_level)` of `files`, kept current: `current` is the last good load."""

    def __init__(
        self, files: Sequence[SettingFile], load: Callable[[int], T], reload_s: float
    ) -> None:
        self._files = list(files)
        self._load = load
        self.reload_s = reload_s
        self._seen = signature(self._files)
        self.current = load(logging.DEBUG)  # the server's "serving" line says TLS is on

    def reload_if_changed(self) -> bool:
        """Blocking (file I/O). True when new files were loaded; bad new files are logged and
        the previous load stays in use."""
        now = signature(self._files)
        if now == self._seen:
            return False
        try:
            self.current = self._load(logging.INFO)
        except FilesChanging:
            return False  # mid-rotation: the next check reads the finished files
        except ConfigurationError as exc:
            self._seen = now
            log.warning(
                "tls files changed but cannot be used: new connections keep the previous "
                "certificate",
                extra={"error": str(exc)},
            )
            return False
        self._seen = now
        return True

    async def watch(self) -> None:
        """Checks the files every reload_s until cancelled."""
        while True:
            await asyncio.sleep(self.reload_s)
            try:
                await asyncio.to_thread(self.reload_if_changed)
            except Exception:
                log.exception("tls file check failed")
