"""A server that refuses to start closes what it had opened before the refusal: nothing keeps
running behind a start that failed (here: the catalog events consumer and its connections)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from services.composition import create_server
from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.factories import settings_for
from tests.support.redis_server import RedisServer
from vrs.errors import ConfigurationError


async def other_clients(client: aioredis.Redis) -> int:
    return len(await client.client_list()) - 1


async def test_a_refused_start_stops_the_events_consumer_it_started(
    tmp_path: Path, effnet: ImageEmbedder, redis_server: RedisServer
) -> None:
    # The embedder starts its events consumer, then the search service refuses these settings.
    settings = settings_for(
        tmp_path,
        redis={"url": redis_server.url},
        events={"enabled": True, "block_ms": 100},
        search={"max_k": 5000},
    )
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        with pytest.raises(ConfigurationError, match="VRS_SEARCH_MAX_K=5000"):
            await create_server(settings, image_embedder=effnet)
        for _ in range(100):  # liveness bound: 10 s
            if await other_clients(client) == 0:
                break
            await asyncio.sleep(0.1)
        assert await other_clients(client) == 0
    finally:
        await client.aclose()
