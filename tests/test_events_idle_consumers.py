"""Names of dead consumers do not pile up in the group: a consumer idle past the bound that
owns no pending entries is removed; one that still owns entries stays."""

from __future__ import annotations

import asyncio

import pytest
import redis

from tests.support.events_pipeline import (
    GROUP,
    STREAM,
    EventsPipeline,
    eventually,
    sync_redis,
)
from vrs.events.publish import delete_event, publish

pytestmark = pytest.mark.slow
IDLE_MS = 300


def consumer_names(client: redis.Redis) -> set[str]:
    return {c["name"].decode() for c in client.xinfo_consumers(STREAM, GROUP)}


async def test_idle_consumers_without_pending_entries_are_removed(
    pipeline: EventsPipeline,
) -> None:
    client = sync_redis(pipeline.redis_url)
    client.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    for ghost in ("ghost-1", "ghost-2"):
        client.xgroup_createconsumer(STREAM, GROUP, ghost)
    await asyncio.sleep(IDLE_MS / 1000 + 0.1)

    live = await pipeline.consumer("live", consumer_idle_delete_ms=IDLE_MS)

    # (A consumer that has read nothing yet may not be listed at all.)
    await eventually(lambda: consumer_names(client) <= {"live"}, "the ghosts removed")
    assert live.counters.consumers_removed == 2


async def test_idle_consumers_owning_pending_entries_are_kept(pipeline: EventsPipeline) -> None:
    client = sync_redis(pipeline.redis_url)
    client.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    publish(client, STREAM, delete_event("p1"))
    client.xreadgroup(GROUP, "holder", {STREAM: ">"})  # reads, never acknowledges: dead
    client.xgroup_createconsumer(STREAM, GROUP, "empty")
    await asyncio.sleep(IDLE_MS / 1000 + 0.1)

    # Claiming is far off, so the dead holder keeps its entry throughout.
    await pipeline.consumer("live", consumer_idle_delete_ms=IDLE_MS, claim_idle_ms=60_000)

    await eventually(lambda: "empty" not in consumer_names(client), "the empty ghost removed")
    await asyncio.sleep(IDLE_MS * 2 / 1000)  # more pruning rounds
    assert consumer_names(client) - {"live"} == {"holder"}
    assert client.xpending(STREAM, GROUP)["pending"] == 1, "its entry is still pending"
