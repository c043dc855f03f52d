"""Search latency on the cache's side: a cache hit over gRPC against a bare grpc.aio + Redis
call measured in the same run, and a miss by product with its store round trips.

    python -m benchmarks.cache_hit [--products 2000] [--hits 2000] [--misses 300]
Starts a throwaway redis-server and a real search server (Qdrant Edge, by-product queries: no
model needed) on free loopback ports. One client, sequential calls. Prints numbers; asserts
nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import grpc
import numpy as np
import redis.asyncio as aioredis

from benchmarks.load_server import throwaway_redis
from services.composition import create_server
from services.search.query_embedder import EmbeddedQuery
from vrs.catalog.products import Product, StoredProduct
from vrs.images.region import Region
from vrs.settings import Settings, StoreSettings
from vrs.store.async_store import AsyncStore
from vrs.store.base import VectorStore
from vrs.store.filters import ProductFilter
from vrs.store.qdrant_edge_store import QdrantEdgeStore
from vrs.store.query import SearchRequest
from vrs.v1 import search_pb2, search_pb2_grpc

DIM = 2048
MODEL = "bench@random"
T = TypeVar("T")


class CountingStore(AsyncStore):
    """The real async store, counting its round trips (each is one hop to the store's pool)."""

    def __init__(self, store: VectorStore) -> None:
        super().__init__(store, 10.0)
        self.calls: Counter[str] = Counter()

    async def _run(self, operation: str, call: Callable[[], T], timeout_s: float | None) -> T:
        self.calls[operation] += 1
        return await super()._run(operation, call, timeout_s)


class ProductsOnly:
    """A query embedder for by-product traffic: it knows its model and never embeds."""

    async def embed(self, data: bytes, region: Region | None) -> EmbeddedQuery:
        raise RuntimeError("by-product queries need no embedding")

    async def model_id(self) -> str:
        return MODEL

    async def close(self) -> None:
        return None


def percentiles(timings_ms: list[float]) -> tuple[float, float]:
    ordered = sorted(timings_ms)
    return statistics.median(ordered), ordered[int(0.99 * (len(ordered) - 1))]


async def timed(n: int, call: Callable[[int], Awaitable[Any]]) -> list[float]:
    timings = []
    for i in range(n):
        started = time.perf_counter()
        await call(i)
        timings.append(1000 * (time.perf_counter() - started))
    return timings


def fill(folder: Path, products: int) -> QdrantEdgeStore:
    store = QdrantEdgeStore.open(
        StoreSettings(data_dir=folder, optimize_after_writes=0), MODEL, DIM
    )
    rng = np.random.default_rng(0)
    for start in range(0, products, 500):
        vectors = rng.normal(size=(min(500, products - start), DIM)).astype(np.float32)
        store.upsert(
            [
                StoredProduct(
                    Product(f"p{start + i}", category="abc"[i % 3], price=float(1 + i % 200)),
                    MODEL,
                    vector=v,
                )
                for i, v in enumerate(vectors)
            ]
        )
    store.optimize()
    return store


@asynccontextmanager
async def bare_server(redis_url: str, gets: int) -> AsyncIterator[Callable[[int], Awaitable[Any]]]:
    """A grpc.aio unary call whose handler does `gets` Redis GETs and returns the last value."""
    client = aioredis.Redis.from_url(redis_url)
    await client.set("bench:bare", b"x" * 1500)

    async def handler(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        value: bytes | str = b""
        for _ in range(gets):
            value = await client.get("bench:bare") or b""
        return value if isinstance(value, bytes) else value.encode()

    server = grpc.aio.server()
    method = grpc.unary_unary_rpc_method_handler(handler)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("bench.Bare", {"Get": method}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.unary_unary("/bench.Bare/Get", None, None)
            yield lambda i: call(b"")
    finally:
        await server.stop(None)
        await client.aclose()


async def interleaved(
    calls: dict[str, Callable[[int], Awaitable[Any]]], n: int, rounds: int = 10
) -> dict[str, list[float]]:
    """n timed calls of each, in rounds taking turns, so a busy machine weighs on all alike."""
    timings: dict[str, list[float]] = {name: [] for name in calls}
    for call in calls.values():
        await timed(100, call)  # warm-up
    for _ in range(rounds):
        for name, call in calls.items():
            timings[name] += await timed(n // rounds, call)
    return timings


async def store_paths(store: AsyncStore, products: int, n: int) -> tuple[list[float], list[float]]:
    """A miss by product's store work: get, count and search as separate calls (as before)
    vs the one combined call, on the same store."""
    flt = ProductFilter()

    async def separate(i: int) -> None:
        pid = f"p{i % products}"
        vector = (await store.get([pid], with_vectors=True))[pid].vector
        if vector is None:
            raise RuntimeError(f"{pid} has no vector")
        exact = await store.count(flt) <= 20_000
        await store.search(SearchRequest(vector, 10, flt, exact=exact, hnsw_ef=128), 20_000)

    async def combined(i: int) -> None:
        await store.search(SearchRequest(f"p{i % products}", 10, flt, hnsw_ef=128), 20_000)

    return await timed(n, separate), await timed(n, combined)


async def run(args: argparse.Namespace, redis_url: str, folder: Path) -> None:
    store = CountingStore(fill(folder / "edge", args.products))
    settings = Settings.model_validate(
        {
            "server": {"host": "127.0.0.1", "port": 0},
            "store": {"data_dir": folder / "edge"},
            "redis": {"url": redis_url},
            "log": {"level": "WARNING"},
        }
    )
    server, port = await create_server(
        settings, "search", query_embedder=ProductsOnly(), store=store
    )
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = search_pb2_grpc.SearchServiceStub(channel)

            def by_product(pid: str) -> Awaitable[search_pb2.SearchResponse]:
                return stub.SearchByProduct(
                    search_pb2.SearchByProductRequest(product_id=pid, k=10), timeout=5
                )

            first = await by_product("p1")
            if first.from_cache or len(first.matches) != 10:
                raise RuntimeError("the first query should be a miss with 10 matches")
            calls = sum(store.calls.values())
            async with (
                bare_server(redis_url, 1) as one_get,
                bare_server(redis_url, 2) as two_gets,
            ):
                timings = await interleaved(
                    {"bare1": one_get, "bare2": two_gets, "hit": lambda i: by_product("p1")},
                    args.hits,
                )
            hits = timings["hit"]
            hit_calls = (sum(store.calls.values()) - calls) / (len(hits) + 100)
            calls = sum(store.calls.values())
            misses = await timed(args.misses, lambda i: by_product(f"p{2 + i}"))
            miss_calls = (sum(store.calls.values()) - calls) / args.misses
        separate, combined = await store_paths(store, args.products, args.misses)
    finally:
        await server.stop(1)
        await store.close()

    bare1, bare2 = timings["bare1"], timings["bare2"]
    base50, base99 = percentiles(bare1)
    rows = [
        ("bare grpc.aio + 1 Redis GET (baseline)", base50, base99, ""),
        ("bare grpc.aio + 2 Redis GETs", *percentiles(bare2), ""),
        ("cache hit, SearchByProduct", *percentiles(hits), f"{hit_calls:.2f}"),
        ("miss by product, SearchByProduct", *percentiles(misses), f"{miss_calls:.2f}"),
        ("  store: get + count + search (3 calls)", *percentiles(separate), "3.00"),
        ("  store: search_by_product (1 call)", *percentiles(combined), "1.00"),
    ]
    print(
        f"{args.products} products of {DIM}-d (Qdrant Edge), local redis-server, one client, "
        f"{args.hits} hits (interleaved with the baselines) / {args.misses} misses, sequential"
    )
    header = f"{'call':42} {'p50 ms':>7} {'p99 ms':>7} {'x base p50':>10} {'x base p99':>10}"
    print(f"{header} {'store calls':>11}")
    for name, p50, p99, calls_per in rows:
        print(
            f"{name:42} {p50:7.3f} {p99:7.3f} {p50 / base50:10.2f} {p99 / base99:10.2f} "
            f"{calls_per:>11}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--hits", type=int, default=2000)
    parser.add_argument("--misses", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        with throwaway_redis(folder) as redis_url:
            if redis_url is None:
                print("redis-server is not installed: no cache to measure (Debian: redis-server)")
                return
            asyncio.run(run(args, redis_url, folder))


if __name__ == "__main__":
    main()
