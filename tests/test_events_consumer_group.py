"""Two consumers of one group split the stream between them, applying every event once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.events_pipeline import STREAM, sync_redis
from tests.support.events_replica import Pipeline
from tests.support.events_scenario import assert_store_equals, drained, publish_scenario

pytestmark = pytest.mark.slow


async def test_two_consumers_split_the_work_applying_each_event_once(
    replica: Pipeline, image_root: Path
) -> None:
    client = sync_redis(replica.redis_url)
    client.xgroup_create(STREAM, "embedders", id="0", mkstream=True)
    scenario = publish_scenario(client, image_root, n=200, seed=9)
    applied: dict[str, list[str]] = {"a": [], "b": []}
    await replica.consumer("a", on_applied=applied["a"].append, batch_size=8)
    await replica.consumer("b", on_applied=applied["b"].append, batch_size=8)
    await drained(client, dead=scenario.poison)
    every = applied["a"] + applied["b"]
    assert len(every) == len(set(every)), "no event applied twice"
    assert applied["a"] and applied["b"], "both consumers took a share"
    acked = sum(c.counters.processed for c in replica.consumers)
    assert acked == scenario.total - scenario.poison, "every valid event acknowledged once"
    assert_store_equals(replica.store, scenario.expected)
