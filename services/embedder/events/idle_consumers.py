"""Removing dead consumers' names from the consumer group.

Every replica joins the group under its own name (host-pid by default), so names of replicas
long gone pile up in it. A consumer idle for idle_ms that owns no pending entry is removed;
one that owns entries stays until a live consumer has claimed them (XAUTOCLAIM). A live
consumer removed by mistake loses nothing: it owns nothing, and its next read adds it back.
"""

from __future__ import annotations

import logging
import time

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# Checked and removed in one step: the consumer may have read an entry since XINFO CONSUMERS
# answered, and removing it then would drop that entry from the group's pending list.
_REMOVE_IF_NOTHING_PENDING = """
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) == 0 then
  redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
  return 1
end
return 0
"""
# Looking more often than this buys nothing: idle times are long.
_MAX_INTERVAL_S = 60.0


class IdleConsumers:
    """Removes the group's idle consumers that own no pending entries, at most every so often."""

    def __init__(
        self, client: aioredis.Redis, stream: str, group: str, me: str, idle_ms: int
    ) -> None:
        self._client = client
        self._stream = stream
        self._group = group
        self._me = me.encode()
        self._idle_ms = idle_ms
        self._interval_s = min(idle_ms / 2000.0, _MAX_INTERVAL_S)
        self._next_at = 0.0
        self._remove = client.register_script(_REMOVE_IF_NOTHING_PENDING)

    async def prune(self) -> int:
        """How many consumers were removed (0 when it is not time to look yet)."""
        now = time.monotonic()
        if now < self._next_at:
            return 0
        self._next_at = now + self._interval_s
        try:
            return await self._prune()
        except RedisError:
            raise
        except Exception:
            # Housekeeping: an answer it does not understand must not stop the events.
            log.exception("could not look for idle consumers")
            return 0

    async def _prune(self) -> int:
        removed = 0
        for consumer in await self._client.xinfo_consumers(self._stream, self._group):
            name = consumer.get("name")
            if not isinstance(name, bytes) or name == self._me:
                continue
            if int(consumer.get("pending") or 0) or int(consumer.get("idle") or 0) < self._idle_ms:
                continue
            if await self._remove(keys=[self._stream], args=[self._group, name]):
                removed += 1
                log.info(
                    "removed an idle consumer from the group",
                    extra={
                        "consumer": name.decode(errors="replace"),
                        "group": self._group,
                        "idle_ms": int(consumer.get("idle") or 0),
                    },
                )
        return removed
