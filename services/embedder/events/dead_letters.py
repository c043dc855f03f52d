"""Failed attempts of catalog events, counted in Redis, and the dead-letter stream.

Counting, acknowledging and dead-lettering run as one script: an entry is dead-lettered at
most once however many consumers fail it at the same time, and a crash cannot leave it
acknowledged but not dead-lettered (or the reverse).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from vrs.errors import VrsError

log = logging.getLogger(__name__)

Fields = dict[bytes, bytes]

# KEYS: failures hash, stream, dead-letter stream. ARGV: group, entry id, max attempts, then
# the dead letter's fields (name, value, ...). Returns {attempts, dead-lettered 0/1}; attempts
# 0: the entry is no longer pending (another consumer finished or dead-lettered it).
_FAIL = """
if #redis.call('XPENDING', KEYS[2], ARGV[1], ARGV[2], ARGV[2], 1) == 0 then
  redis.call('HDEL', KEYS[1], ARGV[2])
  return {0, 0}
end
local attempts = redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
if attempts < tonumber(ARGV[3]) then return {attempts, 0} end
redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])
redis.call('HDEL', KEYS[1], ARGV[2])
local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
fields[#fields + 1] = 'attempts'
fields[#fields + 1] = tostring(attempts)
redis.call('XADD', KEYS[3], '*', unpack(fields))
return {attempts, 1}
"""
# Lua's unpack() takes a few thousand values; an entry with more fields than this keeps the
# first ones in its dead letter (and says how many it dropped).
MAX_DEAD_LETTER_FIELDS = 1000


@dataclass(frozen=True)
class Attempt:
    """What recording one failed attempt did."""

    attempts: int
    dead_lettered: bool

    @property
    def still_pending(self) -> bool:
        return self.attempts > 0


def describe(error: BaseException) -> str:
    """An error as the dead letter and the log show it.

    Domain errors name the problem themselves; any other exception's text may quote what it
    failed on (a URI with credentials), so only its type is shown.
    """
    if isinstance(error, VrsError):
        return str(error) or type(error).__name__
    return f"internal error applying the event ({type(error).__name__}); see the embedder log"


class DeadLetters:
    """Counts failed attempts per entry and moves entries past max_attempts to the dead-letter
    stream, with their original fields and the error."""

    def __init__(
        self,
        client: aioredis.Redis,
        stream: str,
        group: str,
        dead_letter_stream: str,
        failures_key: str,
        max_attempts: int,
    ) -> None:
        self._stream = stream
        self._group = group
        self._dead = dead_letter_stream
        self.failures_key = failures_key
        self._max_attempts = max_attempts
        self._script = client.register_script(_FAIL)

    async def failed(self, entry_id: str, fields: Fields, error: BaseException) -> Attempt:
        letter = _letter(fields, error, self._stream, entry_id)
        flat: list[Any] = [value for pair in letter.items() for value in pair]
        answer = await self._script(
            keys=[self.failures_key, self._stream, self._dead],
            args=[self._group, entry_id, self._max_attempts, *flat],
        )
        attempts, dead = (int(v) for v in answer)
        return Attempt(attempts, bool(dead))


def _letter(fields: Fields, error: BaseException, stream: str, entry_id: str) -> dict[Any, Any]:
    original = list(fields.items())
    kept = dict(original[:MAX_DEAD_LETTER_FIELDS])
    letter: dict[Any, Any] = {
        **kept,
        b"error": describe(error),
        b"error_type": type(error).__name__,
        b"stream": stream,
        b"entry_id": entry_id,
    }
    if len(original) > MAX_DEAD_LETTER_FIELDS:
        letter[b"fields_dropped"] = len(original) - MAX_DEAD_LETTER_FIELDS
    # The script appends the attempt count itself.
    letter.pop(b"attempts", None)
    return letter
