"""A long-lived client channel that follows its TLS files (cert-manager and Secret rotation).

The files are checked every few seconds off the event loop; when they change, later calls go
through a new channel made from them, and the old one is closed once its in-flight calls have
finished (or their deadline has passed), so a rotation drops nothing.
"""

from __future__ import annotations

import asyncio
import logging

import grpc

from vrs.background import observe
from vrs.errors import ConfigurationError
from vrs.rpc.client import ChannelOptions, channel_credentials, open_channel, tls_files
from vrs.settings import ClientSettings
from vrs.tls.files import FilesChanging, signature

log = logging.getLogger(__name__)


class ReloadingChannel:
    """An aio channel to one address, re-made when its client TLS files change."""

    def __init__(
        self,
        address: str,
        settings: ClientSettings,
        *,
        options: ChannelOptions = (),
        check_every_s: float = 10.0,
        drain_s: float = 30.0,
    ) -> None:
        """Opens the first channel now (reads the TLS files: call it at startup)."""
        self.address = address
        self._settings = settings
        self._options = options
        self._check_every_s = check_every_s
        self._drain_s = drain_s
        self._files = tls_files(settings)
        self._seen = signature(self._files)
        self._channel = open_channel(address, settings, aio=True, options=options)
        self._watch: asyncio.Task[None] | None = None
        self._retiring: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def channel(self) -> grpc.aio.Channel:
        """The channel for the next call (starts the file watch on first use)."""
        if self._watch is None and self._files and not self._closed:
            self._watch = asyncio.get_running_loop().create_task(
                self._watch_files(), name=f"tls-file-watch {self.address}"
            )
        return self._channel

    async def reload_if_changed(self) -> bool:
        """True when changed files were loaded into a new channel; unusable new files are
        logged and the current channel stays."""
        now = await asyncio.to_thread(signature, self._files)
        if now == self._seen or self._closed:
            return False
        try:
            credentials = await asyncio.to_thread(channel_credentials, self._settings)
        except FilesChanging:
            return False  # mid-rotation: the next check reads the finished files
        except ConfigurationError as exc:
            self._seen = now
            log.warning(
                "client tls files changed but cannot be used: keeping the current channel",
                extra={"address": self.address, "error": str(exc)},
            )
            return False
        self._seen = now
        old = self._channel
        self._channel = open_channel(
            self.address,
            self._settings,
            aio=True,
            options=self._options,
            credentials=credentials,
        )
        self._retire(old)
        log.info("client tls files reloaded", extra={"address": self.address})
        return True

    async def close(self) -> None:
        self._closed = True
        if self._watch is not None:
            self._watch.cancel()
        await self._channel.close(None)
        if self._retiring:
            await asyncio.gather(*self._retiring, return_exceptions=True)

    def _retire(self, channel: grpc.aio.Channel) -> None:
        # In-flight calls have a deadline of at most drain_s: they end before the close does.
        task = asyncio.get_running_loop().create_task(channel.close(self._drain_s))
        observe(task, f"closing a retired channel to {self.address}")
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _watch_files(self) -> None:
        while True:
            await asyncio.sleep(self._check_every_s)
            try:
                await self.reload_if_changed()
            except Exception:
                log.exception("client tls file check failed", extra={"address": self.address})
