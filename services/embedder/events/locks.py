"""Per-product locks in Redis: events of one product handled by two consumers at once are
applied one after the other, so the version check and the write cannot interleave.

A lock is kept alive while its holder works (a watchdog extends it every third of its TTL):
fetching and embedding images can take longer than the TTL. Waiting for a lock is bounded.
A holder confirms each lock right before its store write; a lock found lost (expired while
Redis was unreachable, deleted, taken) aborts that product's write instead of interleaving.

Every token a consumer writes starts with its own instance id: a lock whose release failed
(Redis frozen or unreachable for a moment) is still this consumer's, and the next round that
needs it takes it back at once instead of waiting on itself until the TTL frees it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Sequence

import redis.asyncio as aioredis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, LockNotOwnedError, RedisError

from vrs.errors import VrsError

log = logging.getLogger(__name__)

# How often a waiting contender asks again.
_POLL_S = 0.02


class LockContention(VrsError):
    """A product's lock was not ours to write under: nothing is wrong with the event, which
    is postponed without spending an attempt."""


class LockBusy(LockContention):
    """A product's lock stayed with another holder for the whole wait."""


class LockLost(LockContention):
    """A product's lock expired or was taken while held: its write was not made."""


class HeldLocks:
    """The locks one round holds: which products it may write, and a check before writing."""

    def __init__(self, locks: dict[str, Lock], refused: dict[str, VrsError]) -> None:
        self._locks = locks
        # Product id -> why it must not be written (lock never taken, or lost since).
        self.refused = refused
        self.lost: dict[str, VrsError] = {}

    def holds(self, product_id: str) -> bool:
        return product_id in self._locks and product_id not in self.lost

    async def confirm(self, product_ids: Sequence[str]) -> dict[str, VrsError]:
        """Products of product_ids that must not be written now: their lock is not ours.

        Each confirmed lock gets its full TTL back, so the write that follows finishes under it.
        """
        wanted = [pid for pid in dict.fromkeys(product_ids) if self.holds(pid)]
        answers = await asyncio.gather(
            *(self._locks[pid].reacquire() for pid in wanted), return_exceptions=True
        )
        for pid, answer in zip(wanted, answers, strict=True):
            if isinstance(answer, LockError):
                self._mark_lost(pid, "before its write")
            elif isinstance(answer, BaseException):
                raise answer  # Redis is down: not this product's fault
        return {
            pid: self.lost.get(pid) or self.refused.get(pid) or _not_held(pid)
            for pid in product_ids
            if not self.holds(pid)
        }

    async def keep_alive(self, period_s: float) -> None:
        """Extend every held lock each period until cancelled."""
        while True:
            await asyncio.sleep(period_s)
            live = [pid for pid in self._locks if pid not in self.lost]
            answers = await asyncio.gather(
                *(self._locks[pid].reacquire() for pid in live), return_exceptions=True
            )
            for pid, answer in zip(live, answers, strict=True):
                if isinstance(answer, LockError):
                    self._mark_lost(pid, "while its holder worked")
                elif isinstance(answer, Exception):
                    # Redis unreachable: the lock may well survive; the next tick tries again,
                    # and confirm() before the write settles it.
                    log.warning(
                        "could not extend a product lock; retrying",
                        extra={"product_id": pid, "error": type(answer).__name__},
                    )

    async def release(self) -> None:
        for pid, lock in self._locks.items():
            try:
                await lock.release()
            except LockNotOwnedError:
                if pid not in self.lost:
                    log.warning(
                        "product lock was lost before release (expired or taken)",
                        extra={"product_id": pid},
                    )
            except (RedisError, OSError) as exc:
                # It expires by its TTL; failing the round over it would redo finished work.
                log.warning(
                    "could not release a product lock; it expires by itself",
                    extra={"product_id": pid, "error": type(exc).__name__},
                )

    def _mark_lost(self, product_id: str, when: str) -> None:
        if product_id in self.lost:
            return
        self.lost[product_id] = LockLost(
            f"lock of product {product_id!r} was lost {when} (expired or taken by another "
            "consumer): its write is aborted and the event postponed"
        )
        log.error("product lock lost; aborting its write", extra={"product_id": product_id})


class ProductLocks:
    """Takes, keeps alive and releases the per-product apply locks."""

    def __init__(
        self, client: aioredis.Redis, key_prefix: str, ttl_ms: int, wait_ms: int = 10_000
    ) -> None:
        self._client = client
        self._prefix = key_prefix
        self._ttl_s = ttl_ms / 1000.0
        self._wait_s = wait_ms / 1000.0
        # This consumer's mark on every token it writes (see the module's docstring).
        self._instance = uuid.uuid4().hex

    def key(self, product_id: str) -> str:
        return f"{self._prefix}:event-lock:{product_id}"

    def _new_token(self) -> str:
        return f"{self._instance}:{uuid.uuid4().hex}"

    async def _take_back(self, lock: Lock, key: str) -> bool:
        """True when the lock at `key` holds one of this consumer's tokens (a release that
        failed) and is now this lock's again, with its full TTL."""
        owner = await self._client.get(key)
        if not isinstance(owner, bytes) or not owner.startswith(f"{self._instance}:".encode()):
            return False
        lock.local.token = owner
        try:
            await lock.reacquire()
        except LockNotOwnedError:
            return False  # it expired between the two calls: an ordinary acquire follows
        log.info("took back a product lock whose release had failed", extra={"key": key})
        return True

    @contextlib.asynccontextmanager
    async def hold(self, product_ids: Sequence[str]) -> AsyncIterator[HeldLocks]:
        """The products' locks, taken in sorted order (no deadlock between consumers) within
        one wait of wait_ms in all; products whose lock did not come are in `refused`.

        A consumer that dies holding locks loses them after ttl_ms.
        """
        locks: dict[str, Lock] = {}
        refused: dict[str, VrsError] = {}
        held = HeldLocks(locks, refused)
        watchdog: asyncio.Task[None] | None = None
        try:
            deadline = asyncio.get_running_loop().time() + self._wait_s
            for pid in sorted(set(product_ids)):
                key = self.key(pid)
                lock = self._client.lock(
                    key,
                    timeout=self._ttl_s,
                    sleep=_POLL_S,
                    thread_local=False,
                    raise_on_release_error=True,
                )
                left = max(0.0, deadline - asyncio.get_running_loop().time())
                if (
                    await lock.acquire(blocking=False, token=self._new_token())
                    or await self._take_back(lock, key)
                    or await lock.acquire(
                        blocking=True, blocking_timeout=left, token=self._new_token()
                    )
                ):
                    locks[pid] = lock
                else:
                    refused[pid] = LockBusy(
                        f"product {pid!r} is locked by another consumer; gave up after "
                        f"{self._wait_s:g}s (VRS_EVENTS_LOCK_WAIT_MS), the event is postponed"
                    )
            watchdog = asyncio.get_running_loop().create_task(
                held.keep_alive(self._ttl_s / 3), name="events-lock-watchdog"
            )
            yield held
        finally:
            if watchdog is not None:
                watchdog.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watchdog
            await held.release()


def _not_held(product_id: str) -> VrsError:
    return LockLost(f"lock of product {product_id!r} is not held: its write is aborted")
