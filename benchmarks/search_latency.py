"""Search latency on Qdrant Edge: HNSW vs exact, unfiltered vs selective filters.

    make bench        (or: python -m benchmarks.search_latency [--points 20000])
Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from vrs.catalog import Product, StoredProduct
from vrs.settings import StoreSettings
from vrs.store.filters import ProductFilter
from vrs.store.qdrant_edge_store import QdrantEdgeStore

DIM = 2048


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    pick = random.Random(0)
    with tempfile.TemporaryDirectory() as folder:
        store = QdrantEdgeStore.open(
            StoreSettings(data_dir=Path(folder), optimize_after_writes=0), "bench@random", DIM
        )
        started = time.perf_counter()
        for start in range(0, args.points, 1000):
            vectors = rng.normal(size=(1000, DIM)).astype(np.float32)
            store.upsert(
                [
                    StoredProduct(
                        Product(
                            f"p{start + i}",
                            category=pick.choice("abcdefghij"),
                            price=round(pick.uniform(1, 500), 2),
                        ),
                        "bench@random",
                        vector=v,
                    )
                    for i, v in enumerate(vectors)
                ]
            )
        load = time.perf_counter() - started
        started = time.perf_counter()
        store.optimize()
        build = time.perf_counter() - started
        info = store.info()
        print(
            f"{info.points} points of {DIM}-d loaded in {load:.1f}s "
            f"({info.points / load:.0f}/s), HNSW built in {build:.1f}s "
            f"({info.indexed_vectors} indexed)"
        )
        queries = rng.normal(size=(args.queries, DIM)).astype(np.float32)
        cases = [
            ("no filter, HNSW", ProductFilter(), False),
            ("no filter, exact", ProductFilter(), True),
            ("price <= 50, HNSW", ProductFilter(max_price=50), False),
            (
                "1 category + price <= 20, exact",
                ProductFilter(categories=("a",), max_price=20),
                True,
            ),
        ]
        print(f"{'query':36} {'p50 ms':>8} {'p99 ms':>8} {'matches':>8}")
        for name, flt, exact in cases:
            timings, found = [], 0
            for q in queries:
                t = time.perf_counter()
                hits = store.search(q, 10, flt, None, exact, 128)
                timings.append(1000 * (time.perf_counter() - t))
                found += len(hits)
            timings.sort()
            p99 = timings[int(0.99 * (len(timings) - 1))]
            print(
                f"{name:36} {statistics.median(timings):8.2f} {p99:8.2f} "
                f"{found / len(queries):8.1f}"
            )
        store.close()


if __name__ == "__main__":
    main()
