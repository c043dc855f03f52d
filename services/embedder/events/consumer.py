"""Reading catalog events from a Redis stream through a consumer group.

Delivery is at least once: an entry is acknowledged only after its change is in the store (or
was superseded). Entries left pending by a dead consumer are claimed after claim_idle_ms
(XAUTOCLAIM). Whatever one entry raises (undecodable, invalid, an image that cannot be
fetched or embedded, a bug) is a failed attempt of that entry alone: it is retried with
exponential backoff and, after max_attempts, moved to the dead-letter stream with its error,
exactly once; the other entries of its batch apply at once. Only an outage of Redis or of the
store holds a batch back, with nothing acknowledged.

A group that disappears (Redis restarted without persistence, FLUSHALL, a failover to a
replica that never had it) is created again and reading goes on. Consumers of the group that
are idle and own no pending entries (dead replicas) are removed from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from services.embedder.events.applier import Applied, ChangeApplier, PendingChange, is_outage
from services.embedder.events.dead_letters import DeadLetters, describe
from services.embedder.events.idle_consumers import IdleConsumers
from services.embedder.events.locks import LockContention
from vrs.errors import Overloaded, VrsError
from vrs.events.schema import decode, stream_version, to_change
from vrs.observability.metrics.events import EventCounters, EventsCollector, EventsStatus
from vrs.settings import EventsSettings

log = logging.getLogger(__name__)

Fields = dict[bytes, bytes]
Entry = tuple[str, Fields]

_FIRST_BACKOFF_S = 0.5
_MAX_BACKOFF_S = 30.0
# How often the loop reads the group's backlog for /metrics (one XINFO GROUPS).
_BACKLOG_EVERY_S = 5.0
# Outcomes that say nothing about the event itself: it waits its turn, spending no attempt.
POSTPONED = (Overloaded, LockContention)


class EventsConsumer:
    """Keeps the store in step with the catalog-events stream, as one consumer of the group."""

    def __init__(
        self,
        client: aioredis.Redis,
        applier: ChangeApplier,
        settings: EventsSettings,
        name: str,
        key_prefix: str,
        on_applied: Callable[[str], None] | None = None,
    ) -> None:
        self._client = client
        self._applier = applier
        self._settings = settings
        self.name = name
        self._dead_letters = DeadLetters(
            client,
            settings.stream,
            settings.group,
            settings.dead_letter_stream,
            f"{key_prefix}:event-failures:{settings.stream}",
            settings.max_attempts,
        )
        self._idle = IdleConsumers(
            client, settings.stream, settings.group, name, settings.consumer_idle_delete_ms
        )
        self._on_applied = on_applied
        self._retry_at: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._group_missing = False
        self._recreated_at = float("-inf")
        self.counters = EventCounters()
        # The group's backlog as last read (lag, pending), for /metrics between reads.
        self._backlog: tuple[int | None, int | None] = (None, None)
        self._backlog_read_at = float("-inf")
        # Set by a failed step: its entries are still this consumer's, read them back first.
        self._resume_own = False

    async def start(self) -> None:
        await self.ensure_group()
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="events-consumer")
        log.info(
            "catalog events consumer started",
            extra={
                "stream": self._settings.stream,
                "group": self._settings.group,
                "consumer": self.name,
            },
        )

    async def stop(self) -> None:
        """Stop between or inside a batch; unacknowledged entries are redelivered later."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def ensure_group(self) -> bool:
        """Create the group (and the stream) unless it exists; True when this call created it."""
        try:
            # From the start of the stream: events published before the first embedder count.
            await self._client.xgroup_create(
                self._settings.stream, self._settings.group, id="0", mkstream=True
            )
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
            return False
        return True

    async def step(self) -> int:
        """One batch: this consumer's own entries an outage cut off, stale entries of dead
        consumers, due retries, then new entries."""
        entries = await self._own_cut_off()
        entries += await self._claim_stale()
        entries += await self._due_retries()
        room = self._settings.batch_size - len(entries)
        if room > 0:
            entries += await self._read_new(room, block=not entries)
        # An entry both due for retry and claimed as stale comes once.
        entries = list(dict(entries).items())
        if entries:
            await self._handle(entries)
        self.counters.consumers_removed += await self._idle.prune()
        return len(entries)

    async def stats(self) -> EventsStatus:
        """The group's backlog as Redis says now, and the counters."""
        lag, pending = await self._read_backlog()
        return self._status(lag, pending)

    def metrics_collector(self) -> EventsCollector:
        """Exports these counters (the ones `vrs stats` shows) and the last backlog read."""
        return EventsCollector(lambda: self._status(*self._backlog))

    def _status(self, lag: int | None, pending: int | None) -> EventsStatus:
        return EventsStatus(
            self._settings.stream, self._settings.group, lag, pending, self.counters.copy()
        )

    async def _read_backlog(self) -> tuple[int | None, int | None]:
        lag = pending = None
        self._backlog_read_at = time.monotonic()
        with contextlib.suppress(RedisError, OSError):
            for group in await self._client.xinfo_groups(self._settings.stream):
                if _text(group.get("name")) == self._settings.group:
                    pending = int(group.get("pending") or 0)
                    lag = int(group.get("lag") or 0) + pending
        self._backlog = (lag, pending)
        return lag, pending

    async def _loop(self) -> None:
        backoff = _FIRST_BACKOFF_S
        # The flag as well as the cancel: redis-py's read timeouts can turn a cancellation
        # into a TimeoutError on Python 3.11, which the handler below would otherwise retry.
        while not self._stopping:
            try:
                if self._group_missing:
                    await self._recreate_group()
                await self.step()
                if time.monotonic() - self._backlog_read_at >= _BACKLOG_EVERY_S:
                    await self._read_backlog()
                backoff = _FIRST_BACKOFF_S
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._stopping:
                    return
                if _is_nogroup(exc):
                    # Redis lost the group: create it again on the next turn, at once unless
                    # it keeps disappearing.
                    self._group_missing = True
                    if time.monotonic() - self._recreated_at > backoff:
                        continue
                # The batch in hand stays pending for this consumer: the next step reads it
                # back at once (XAUTOCLAIM would only rescue it after claim_idle_ms).
                self._resume_own = True
                if isinstance(exc, (RedisError, OSError)) or is_outage(exc):
                    # Redis or the store is down: nothing is acknowledged, nothing is lost.
                    log.warning(
                        "catalog events: dependency down, retrying",
                        extra={"error": f"{type(exc).__name__}: {exc}", "retry_in_s": backoff},
                    )
                else:
                    log.exception("catalog events: unexpected error, retrying")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_S)

    async def _recreate_group(self) -> None:
        created = await self.ensure_group()
        self._group_missing = False
        self._recreated_at = time.monotonic()
        # The old group's pending entries went with it; retries of them would find nothing.
        self._retry_at.clear()
        if created:
            self.counters.group_recreated += 1
        log.warning(
            "consumer group missing: recreated"
            if created
            else "consumer group missing: recreated by another consumer",
            extra={
                "stream": self._settings.stream,
                "group": self._settings.group,
                "group_recreated": self.counters.group_recreated,
            },
        )

    async def _handle(self, entries: list[Entry]) -> None:
        fields_of = dict(entries)
        pending: list[PendingChange] = []
        for entry_id, fields in entries:
            try:
                change = to_change(decode(fields))
            except Exception as exc:
                # Anything decoding raises is this entry's problem, not the batch's.
                if not isinstance(exc, VrsError):
                    log.error(
                        "catalog events: unexpected error decoding an event",
                        extra={"entry_id": entry_id},
                        exc_info=exc,
                    )
                await self._failed(entry_id, fields, exc)
                continue
            pending.append(PendingChange(entry_id, stream_version(entry_id), change))
        outcomes = await self._applier.apply(pending)
        done = [entry_id for entry_id, outcome in outcomes.items() if isinstance(outcome, Applied)]
        if done:
            await self._acknowledge(done)
            for entry_id in done:
                if outcomes[entry_id] is Applied.APPLIED and self._on_applied is not None:
                    self._on_applied(entry_id)
        for entry_id, outcome in outcomes.items():
            if isinstance(outcome, POSTPONED):
                self._postpone(entry_id, outcome)
            elif not isinstance(outcome, Applied):
                await self._failed(entry_id, fields_of[entry_id], outcome)

    def _postpone(self, entry_id: str, reason: Exception) -> None:
        # A busy model or a product locked by another consumer says nothing about the event:
        # retry it later without counting an attempt, or a burst of gRPC traffic, or a frozen
        # Redis, would dead-letter good events.
        delay = max(self._settings.retry_backoff_ms / 1000.0, 0.05)
        self._retry_at[entry_id] = time.monotonic() + delay
        log.info(
            "catalog event postponed",
            extra={"entry_id": entry_id, "reason": type(reason).__name__},
        )

    async def _acknowledge(self, entry_ids: list[str]) -> None:
        async with self._client.pipeline(transaction=False) as pipe:
            for entry_id in entry_ids:
                pipe.xack(self._settings.stream, self._settings.group, entry_id)
            pipe.hdel(self._dead_letters.failures_key, *entry_ids)
            answers = await pipe.execute()
        # An entry claimed and finished by another consumer meanwhile acks as 0: count it once.
        self.counters.processed += sum(int(a) for a in answers[:-1])
        for entry_id in entry_ids:
            self._retry_at.pop(entry_id, None)

    async def _failed(self, entry_id: str, fields: Fields, error: BaseException) -> None:
        # Failures are counted in Redis, not per consumer: a poison event moving between
        # consumers still reaches the dead-letter stream after max_attempts, and only once.
        attempt = await self._dead_letters.failed(entry_id, fields, error)
        self._retry_at.pop(entry_id, None)
        reason = describe(error)
        if not attempt.still_pending:
            log.info(
                "failed catalog event was finished by another consumer",
                extra={"entry_id": entry_id},
            )
            return
        if attempt.dead_lettered:
            self.counters.dead_lettered += 1
            log.error(
                "catalog event dead-lettered",
                extra={"entry_id": entry_id, "attempts": attempt.attempts, "error": reason},
            )
            return
        delay = self._settings.retry_backoff_ms / 1000.0 * 2 ** (attempt.attempts - 1)
        self._retry_at[entry_id] = time.monotonic() + delay
        self.counters.retried += 1
        log.warning(
            "catalog event failed, will retry",
            extra={
                "entry_id": entry_id,
                "attempt": attempt.attempts,
                "retry_in_s": delay,
                "error": reason,
            },
        )

    async def _own_cut_off(self) -> list[Entry]:
        """After a failed step: this consumer's own pending entries (its batch that the
        failure cut off), read again from the group."""
        if not self._resume_own:
            return []
        answer = await self._client.xreadgroup(
            self._settings.group,
            self.name,
            {self._settings.stream: "0"},
            count=self._settings.batch_size,
        )
        streams: Any = answer or []
        entries = [entry for _, found in streams for entry in _entries(found)]
        # A full batch may leave more behind: the next step reads on.
        self._resume_own = len(entries) == self._settings.batch_size
        if entries:
            log.info("resuming entries an outage cut off", extra={"count": len(entries)})
        return entries

    async def _claim_stale(self) -> list[Entry]:
        answer = await self._client.xautoclaim(
            self._settings.stream,
            self._settings.group,
            self.name,
            min_idle_time=self._settings.claim_idle_ms,
            start_id="0-0",
            count=self._settings.batch_size,
        )
        claimed = _entries(answer[1] if len(answer) > 1 else [])
        if claimed:
            log.info("claimed entries of an idle consumer", extra={"count": len(claimed)})
        return claimed

    async def _due_retries(self) -> list[Entry]:
        now = time.monotonic()
        due = [entry_id for entry_id, at in self._retry_at.items() if at <= now]
        if not due:
            return []
        for entry_id in due:
            del self._retry_at[entry_id]
        answer = await self._client.xclaim(
            self._settings.stream,
            self._settings.group,
            self.name,
            min_idle_time=0,
            message_ids=list[Any](due),
        )
        return _entries(answer)

    async def _read_new(self, count: int, block: bool) -> list[Entry]:
        answer = await self._client.xreadgroup(
            self._settings.group,
            self.name,
            {self._settings.stream: ">"},
            count=count,
            block=self._settings.block_ms if block else None,
        )
        streams: Any = answer or []
        return [entry for _, entries in streams for entry in _entries(entries)]


def _is_nogroup(error: BaseException) -> bool:
    # Also raised from inside scripts, whose errors wrap the command's.
    return isinstance(error, ResponseError) and "NOGROUP" in str(error)


def _entries(raw: Any) -> list[Entry]:
    # Entries deleted from the stream while pending come back without fields.
    return [(_text(entry_id), fields) for entry_id, fields in raw if fields]


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
