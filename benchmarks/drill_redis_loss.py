"""Phase redis-loss: Redis killed (kill -9) under a mixed gRPC load and restarted empty on the
same port a few seconds later. Expected: no call fails (the cache is optional and upserts go
straight to the store), every upsert the server acknowledged is in the store afterwards, and
the cache and the events consumer's group are back on the new, empty Redis."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import grpc

from benchmarks.drill_catalog import (
    CALL_TIMEOUT_S,
    DrillContext,
    drawn_catalog,
    seed,
    stored,
    workload,
)
from benchmarks.drill_events import GROUP, STREAM
from benchmarks.drill_procs import RedisServer, VrsProcess, redis_server, running
from benchmarks.drill_report import PhaseResult
from benchmarks.load_mix import (
    CALL_DEADLINE_S,
    ItemFailed,
    LevelResult,
    LoadClient,
    Workload,
    new_photo,
    run_level,
)
from vrs.v1 import common_pb2, embedder_pb2, search_pb2, search_pb2_grpc

NAME = "redis-loss"
FAULT = "Redis killed, restarted empty under load"
LOAD_S = 24.0
KILL_AT_S = 7.0
DOWN_S = 4.0
CONCURRENCY = 4
RECOVERY_LIMIT_S = 30.0


class AckingLoadClient(LoadClient):
    """load_mix's client, writing down the upserts the server acknowledged."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        super().__init__(channel, channel)
        self.acked: list[str] = []

    async def upsert(self, n: int, workload: Workload, rng: random.Random) -> None:
        product_id = f"drill-load-{n}-{rng.randrange(1 << 30)}"
        item = embedder_pb2.ProductUpsert(
            product=common_pb2.ProductAttributes(
                product_id=product_id,
                title="drill load product",
                category="drill",
                price=round(rng.uniform(1, 500), 2),
            ),
            image=new_photo(workload, rng),
        )
        workload.created.append(product_id)
        answer = await self.embedder.UpsertProducts(
            embedder_pb2.UpsertProductsRequest(items=[item]), timeout=CALL_DEADLINE_S
        )
        [outcome] = answer.results
        if outcome.outcome == embedder_pb2.UPSERT_OUTCOME_FAILED:
            raise ItemFailed(outcome.error.message)
        self.acked.append(product_id)


@dataclass
class Outage:
    """When Redis went down and came back, from the start of the load."""

    killed_at_s: float = -1.0
    back_at_s: float = -1.0


async def _load(
    address: str, load: Workload, redis: RedisServer, load_s: float
) -> tuple[LevelResult, list[str], Outage]:
    outage = Outage()
    async with grpc.aio.insecure_channel(address) as channel:
        client = AckingLoadClient(channel)
        started = time.monotonic()

        async def chaos() -> None:
            await asyncio.sleep(min(KILL_AT_S, load_s / 3))
            await asyncio.to_thread(redis.kill)
            outage.killed_at_s = time.monotonic() - started
            await asyncio.sleep(DOWN_S)
            await asyncio.to_thread(redis.restart_empty)
            outage.back_at_s = time.monotonic() - started

        level, _ = await asyncio.gather(
            run_level(client, load, CONCURRENCY, 1_000_000, load_s, seed=5), chaos()
        )
    return level, client.acked, outage


def _cache_answers(address: str, product_id: str) -> bool:
    """The same search twice: is the second answered from the cache?"""
    request = search_pb2.SearchByProductRequest(product_id=product_id, k=7)
    with grpc.insecure_channel(address) as channel:
        stub = search_pb2_grpc.SearchServiceStub(channel)
        stub.SearchByProduct(request, timeout=CALL_TIMEOUT_S)
        return bool(stub.SearchByProduct(request, timeout=CALL_TIMEOUT_S).from_cache)


def _group_back(redis: RedisServer) -> bool:
    client = redis.client()
    try:
        groups = client.xinfo_groups(STREAM) if client.exists(STREAM) else []
        return any(g["name"] in (GROUP, GROUP.encode()) for g in groups)
    finally:
        client.close()


def _within(limit_s: float, check: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except Exception:  # not yet: Redis or the server still recovering
            pass
        time.sleep(0.5)
    return False


def run(ctx: DrillContext) -> PhaseResult:
    result = PhaseResult(NAME, FAULT)
    folder = ctx.phase_dir(NAME)
    products = drawn_catalog(24, "drill-")
    load_s = max(10.0, min(LOAD_S, ctx.remaining_s() / 6))
    with redis_server(folder, ctx.host) as redis:
        serve = VrsProcess(
            "vrs-serve",
            folder,
            ctx.vrs_env(
                VRS_REDIS_URL=redis.url,
                VRS_EVENTS_ENABLED="true",
                VRS_QDRANT_DATA_DIR=str(folder / "qdrant"),
            ),
        )
        with running(serve):
            seed(serve.address, products)
            level, acked, outage = asyncio.run(
                _load(serve.address, workload(products), redis, load_s)
            )
            found = stored(serve.address, acked)
            hot = products[0].attributes.product_id
            cache_back = _within(RECOVERY_LIMIT_S, lambda: _cache_answers(serve.address, hot))
            group_back = _within(RECOVERY_LIMIT_S, lambda: _group_back(redis))
    result.requests = level.calls
    for kind, stats in level.kinds.items():
        result.latencies_s += stats.latencies_s
        for code, n in stats.errors.items():
            result.errors[code] += n
        if stats.errors:
            result.notes.append(f"{kind}: {dict(stats.errors)}")
    result.acked, result.found = len(acked), len(set(found) & set(acked))
    result.notes.append(
        f"{level.calls} calls in {level.elapsed_s:.1f} s at concurrency {CONCURRENCY}; Redis "
        f"kill -9 at {outage.killed_at_s:.1f} s, empty again at {outage.back_at_s:.1f} s"
    )
    cached = sum(s.from_cache for s in level.kinds.values())
    result.notes.append(f"{cached} answers from the cache; {len(acked)} upserts acknowledged")
    if outage.back_at_s < 0:
        result.problems.append("Redis was not killed and restarted during the load")
    if not cache_back:
        result.problems.append(f"the cache did not answer again within {RECOVERY_LIMIT_S:.0f} s")
    if not group_back:
        result.problems.append(
            f"the events consumer did not re-create its group within {RECOVERY_LIMIT_S:.0f} s"
        )
    return result
