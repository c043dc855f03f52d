"""A replica killed inside a batch, and entries a dead consumer never acknowledged: after
500 events (duplicates and poison among them) the store holds exactly the in-order state and
every poison event is dead-lettered once, saying why."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from services.embedder.embedding.embedder import ImageEmbedder
from services.embedder.events.consumer import Entry, EventsConsumer
from tests.support.events_pipeline import DEAD, STREAM, sync_redis
from tests.support.events_replica import Pipeline
from tests.support.events_scenario import assert_store_equals, drained, publish_scenario

pytestmark = pytest.mark.slow


class Killable(EventsConsumer):
    """The real consumer; once `hold` is set, it stops inside its next batch (read, not
    acknowledged) until it is killed, so the kill always lands mid-batch however loaded the
    machine is."""

    in_batch: asyncio.Event
    hold = False

    async def _handle(self, entries: list[Entry]) -> None:
        if Killable.hold:
            self.in_batch.set()
            await asyncio.Event().wait()  # until cancelled by the kill
        await super()._handle(entries)


async def test_500_events_with_crash_and_redeliveries(
    replica: Pipeline, image_root: Path, image_root_embedder: ImageEmbedder
) -> None:
    client = sync_redis(replica.redis_url)
    client.xgroup_create(STREAM, "embedders", id="0", mkstream=True)
    scenario = publish_scenario(client, image_root)
    # A consumer that takes 60 entries and dies before acknowledging any: they come back
    # late, after newer events of the same products were applied.
    client.xreadgroup("embedders", "ghost", {STREAM: ">"}, count=60)

    Killable.in_batch = asyncio.Event()
    first = await replica.consumer("first", cls=Killable)
    while first.counters.processed < 150:
        await asyncio.sleep(0.05)
    Killable.in_batch.clear()
    Killable.hold = True
    await Killable.in_batch.wait()
    Killable.hold = False
    await first.stop()  # killed inside a batch: read, not acknowledged
    pending = client.xpending_range(STREAM, "embedders", "-", "+", 1000, consumername="first")
    assert pending, "the consumer died holding unacknowledged entries"

    await replica.consumer("second")
    await drained(client, dead=scenario.poison)
    assert_store_equals(replica.store, scenario.expected)

    dead: list[tuple[bytes, dict[bytes, bytes]]] = client.xrange(DEAD)  # type: ignore[assignment]
    assert len(dead) == scenario.poison
    for _, fields in dead:
        assert fields[b"error"], "dead letters say why"
        assert b"event" in fields and fields[b"stream"] == STREAM.encode()
        assert int(fields[b"attempts"]) == 3
    reasons = b" ".join(f[b"error"] for _, f in dead).decode()
    for reason in (
        "not a valid CatalogEvent",
        "wire version",
        "schema is",
        "no product_id",
        "price -3.0",
        "outside the allowed image root",
        "no such file",
        "not an image",
        "scheme 'ftp'",
    ):
        assert reason in reasons
