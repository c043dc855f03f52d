"""Search -> embedder traffic over a fleet: calls spread over every replica behind one target,
and a replica killed mid-load costs no call (round_robin + retries of UNAVAILABLE)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from services.search.query_embedder import GrpcQueryEmbedder
from tests.support.embedder_processes import EmbedderProcess, embedder_fleet
from tests.support.images import product_jpeg

# Loopback only, bounded: a fixed number of calls, each with a deadline, the whole under a limit.
CALL_TIMEOUT_S = 10.0
LOAD_LIMIT_S = 60.0
IMAGES = [product_jpeg(seed=i) for i in range(8)]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[EmbedderProcess]]:
    with embedder_fleet(tmp_path_factory.mktemp("fleet"), 2) as replicas:
        yield replicas


@pytest_asyncio.fixture
async def client(fleet: list[EmbedderProcess]) -> AsyncIterator[GrpcQueryEmbedder]:
    """Search's embedder client, given every replica behind one target."""
    target = "ipv4:" + ",".join(replica.address for replica in fleet)
    embedder = GrpcQueryEmbedder(target, CALL_TIMEOUT_S)
    yield embedder
    await embedder.close()


async def test_embeds_spread_over_every_replica(
    fleet: list[EmbedderProcess], client: GrpcQueryEmbedder
) -> None:
    calls = 40
    before = [replica.images_embedded() for replica in fleet]
    for i in range(calls):
        await client.embed(IMAGES[i % len(IMAGES)], None)
    shares = [replica.images_embedded() - b for replica, b in zip(fleet, before, strict=True)]
    assert sum(shares) == calls
    assert all(share > calls * 0.2 for share in shares), shares


async def test_a_replica_killed_mid_load_fails_no_call(
    fleet: list[EmbedderProcess], client: GrpcQueryEmbedder
) -> None:
    """kill -9 of one replica while 4 loops send 200 embeds: every embed still succeeds."""
    total, loops, kill_after = 200, 4, 50
    numbers = itertools.count()
    done = 0
    failures: list[BaseException] = []
    halfway = asyncio.Event()

    async def loop() -> None:
        nonlocal done
        while (i := next(numbers)) < total:
            try:
                await client.embed(IMAGES[i % len(IMAGES)], None)
            except Exception as exc:
                failures.append(exc)
            done += 1
            if done == kill_after:
                halfway.set()

    async def killer() -> None:
        await halfway.wait()
        await asyncio.to_thread(fleet[0].kill)

    await asyncio.wait_for(asyncio.gather(*(loop() for _ in range(loops)), killer()), LOAD_LIMIT_S)
    assert fleet[0].process.returncode is not None  # it did die mid-load
    assert done == total
    assert failures == []
