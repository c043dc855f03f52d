"""Phase replica-kill: a split deployment (two `vrs serve --service embedder` replicas, each
with its own Qdrant Edge folder, and a separate search process whose embedder address names
both, balanced round_robin) under SearchByImage load, one replica killed (kill -9) mid-load.
Expected: no search fails (calls that reached the dead replica are retried on the other)."""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import grpc
import numpy as np

from benchmarks.drill_catalog import (
    CALL_TIMEOUT_S,
    CallStats,
    DrawnProduct,
    DrillContext,
    drawn_catalog,
    timed,
    workload,
)
from benchmarks.drill_procs import VRS, VrsProcess, grpc_fleet_target, running
from benchmarks.drill_report import PhaseResult
from benchmarks.load_mix import Workload, new_photo
from vrs.catalog.products import Product, StoredProduct
from vrs.settings import StoreSettings
from vrs.store.qdrant_edge_store import QdrantEdgeStore
from vrs.v1 import (
    common_pb2,
    embedder_pb2,
    embedder_pb2_grpc,
    search_pb2,
    search_pb2_grpc,
)

NAME = "replica-kill"
FAULT = "Embedder replica kill -9 under search load"
LOAD_S = 16.0
KILL_AT_S = 5.0
CONCURRENCY = 4
ROOT = Path(__file__).resolve().parents[1]


def images_embedded(address: str) -> int:
    with grpc.insecure_channel(address) as channel:
        stats = embedder_pb2_grpc.EmbedderServiceStub(channel).GetStats(
            embedder_pb2.GetEmbedderStatsRequest(), timeout=CALL_TIMEOUT_S
        )
    return int(stats.images_embedded)


def seed_search_store(data_dir: Path, replica: str, products: list[DrawnProduct]) -> int:
    """The products, embedded by a replica of the fleet, written into the search process's own
    store (its collection for the fleet's model); returns how many."""
    request = embedder_pb2.EmbedRequest(
        images=[common_pb2.ImageSource(data=p.photo) for p in products]
    )
    with grpc.insecure_channel(replica) as channel:
        answer = embedder_pb2_grpc.EmbedderServiceStub(channel).Embed(
            request, timeout=CALL_TIMEOUT_S
        )
    items = [
        StoredProduct(
            product=Product(
                p.attributes.product_id,
                title=p.attributes.title,
                category=p.attributes.category,
                price=p.attributes.price,
            ),
            model_id=answer.model_id,
            vector=np.asarray(r.embedding.values, dtype=np.float32),
        )
        for p, r in zip(products, answer.results, strict=True)
        if r.HasField("embedding")
    ]
    # Defaults and this folder only: no VRS_QDRANT_* variable of the caller's applies.
    settings = StoreSettings.model_construct(data_dir=data_dir)
    store = QdrantEdgeStore.open(settings, answer.model_id, int(answer.dimension))
    try:
        store.upsert(items)
    finally:
        store.close()
    return len(items)


@dataclass
class KillRecord:
    """Images each replica had embedded when the first was killed, and when that was."""

    shares: list[int] = field(default_factory=list)
    at_s: float = -1.0


async def _load(
    search: str, fleet: list[VrsProcess], load: Workload, load_s: float
) -> tuple[CallStats, KillRecord]:
    stats = CallStats()
    record = KillRecord()
    started = time.monotonic()
    stop_at = started + load_s
    async with grpc.aio.insecure_channel(search) as channel:
        stub = search_pb2_grpc.SearchServiceStub(channel)

        async def worker(index: int) -> None:
            rng = random.Random(100 + index)
            while time.monotonic() < stop_at:
                request = search_pb2.SearchByImageRequest(image=new_photo(load, rng), k=5)
                await timed(stats, partial(stub.SearchByImage, request, timeout=CALL_TIMEOUT_S))

        async def killer() -> None:
            await asyncio.sleep(min(KILL_AT_S, load_s / 3))
            for replica in fleet:
                record.shares.append(await asyncio.to_thread(images_embedded, replica.address))
            await asyncio.to_thread(fleet[0].kill)
            record.at_s = time.monotonic() - started

        await asyncio.gather(*(worker(i) for i in range(CONCURRENCY)), killer())
    return stats, record


def run(ctx: DrillContext) -> PhaseResult:
    result = PhaseResult(NAME, FAULT)
    folder = ctx.phase_dir(NAME)
    products = drawn_catalog(12, "rk-")
    load_s = max(8.0, min(LOAD_S, ctx.remaining_s() / 8))
    fleet = [
        VrsProcess(
            f"embedder-{i}",
            folder,
            ctx.vrs_env(VRS_QDRANT_DATA_DIR=str(folder / f"embedder-{i}")),
            args=[str(VRS), "serve", "--service", "embedder"],
        )
        for i in range(2)
    ]
    with running(*fleet):
        search_dir = folder / "search-qdrant"
        seeded = seed_search_store(search_dir, fleet[0].address, products)
        target = grpc_fleet_target(ctx.host, [int(r.env["VRS_GRPC_PORT"]) for r in fleet])
        python_path = os.pathsep.join(filter(None, [str(ROOT), ctx.env.get("PYTHONPATH")]))
        search = VrsProcess(
            "search",
            folder,
            ctx.vrs_env(
                VRS_SEARCH_EMBEDDER_ADDRESS=target,
                VRS_QDRANT_DATA_DIR=str(search_dir),
                PYTHONPATH=python_path,
            ),
            args=[sys.executable, "-m", "benchmarks.drill_search_host"],
        )
        with running(search):
            baseline = [images_embedded(replica.address) for replica in fleet]
            stats, record = asyncio.run(_load(search.address, fleet, workload(products), load_s))
            after = images_embedded(fleet[1].address) - baseline[1]
            record.shares = [n - b for n, b in zip(record.shares, baseline, strict=False)]
            search_alive = search.alive()
        killed = fleet[0].process is not None and fleet[0].process.returncode is not None
    result.requests = stats.calls
    result.errors = stats.errors
    result.latencies_s = stats.latencies_s
    result.notes.append(
        f"{stats.calls} SearchByImage in {load_s:.0f} s at concurrency {CONCURRENCY} through "
        f"search ({target}, {seeded} products); replica 0 kill -9 at {record.at_s:.1f} s"
    )
    result.notes.append(
        f"images embedded for search before the kill: {record.shares}; by replica 1 in all: {after}"
    )
    if not killed or record.at_s < 0:
        result.problems.append("replica 0 was not killed mid-load")
    if len(record.shares) == 2 and min(record.shares) == 0:
        result.problems.append(f"the calls did not spread over both replicas: {record.shares}")
    if not search_alive:
        result.problems.append("the search process died")
    return result
