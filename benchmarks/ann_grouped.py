"""Grouped search at scale (`python -m benchmarks.ann_scale --grouped`): a catalog of products
with several photos each, searched for distinct products, against exact grouped search and
against ungrouped search of a catalog with as many points (one photo per product).

The products are ann_scale's points (seed photos lifted to 2048-d and synthetic points around
them); each has `photos` photos: its point, and copies moved by isotropic noise of a fifth of
a cluster's spread (views of one product lie nearer each other than to other products). The
truth is numpy's exact grouped answer (float64): a product's distance is its nearest photo's;
a hit counts when its true distance is within the 10th true distance. Prices are per product;
the filter keeps 10% of the products. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.machine import cpu_model
from vrs.catalog.products import Product, StoredPhoto, StoredProduct
from vrs.settings import SearchSettings, StoreSettings
from vrs.store.filters import ProductFilter
from vrs.store.qdrant_edge_store import QdrantEdgeStore
from vrs.store.query import SearchRequest

DIM = 2048
K = 10
MODEL_ID = "ann-grouped@bench"
BATCH_PRODUCTS = 250
FILTER_SHARE = 0.10
# A photo's offset from its product's point, against a cluster's spread (ann_scale.SPREAD).
PHOTO_SPREAD = 0.2


@dataclass(frozen=True)
class Catalog:
    """Products x photos vectors (product-major), their prices, the queries."""

    photos: np.ndarray  # (products, photos, DIM)
    prices: np.ndarray  # (products,)
    queries: np.ndarray


@dataclass(frozen=True)
class Timed:
    """Recall@10 against the exact answer, and latency percentiles (ms)."""

    recall: float
    p50: float
    p99: float


def with_photos(
    points: np.ndarray, prices: np.ndarray, queries: np.ndarray, photos: int, cluster_spread: float
) -> Catalog:
    """Each point becomes a product: itself and `photos - 1` noisy copies."""
    rng = np.random.default_rng(3)
    sigma = PHOTO_SPREAD * cluster_spread / np.sqrt(DIM)
    views = [points]
    for _ in range(photos - 1):
        views.append(points + rng.normal(scale=sigma, size=points.shape).astype(np.float32))
    return Catalog(np.stack(views, axis=1).astype(np.float32), prices, queries)


def grouped_truth(catalog: Catalog, keep: np.ndarray | None) -> np.ndarray:
    """Each query's 10th smallest exact product distance (its nearest photo's), float64."""
    products, photos, _ = catalog.photos.shape
    chosen = np.flatnonzero(keep) if keep is not None else np.arange(products)
    flat = catalog.photos[chosen].reshape(-1, DIM)
    norms = (flat.astype(np.float64) ** 2).sum(axis=1)
    tenth = np.empty(len(catalog.queries))
    for i, q in enumerate(catalog.queries):
        approx = (norms - 2 * (flat @ q).astype(np.float64)).reshape(len(chosen), photos)
        nearest = approx.min(axis=1)
        candidates = np.argpartition(nearest, 4 * K)[: 4 * K]
        exact = product_distances(catalog, chosen[candidates], q)
        tenth[i] = np.sort(exact)[K - 1]
    return tenth


def product_distances(catalog: Catalog, products: np.ndarray, q: np.ndarray) -> np.ndarray:
    """The exact distance from q to each product's nearest photo."""
    diff = catalog.photos[products].astype(np.float64) - q
    return np.sqrt((diff**2).sum(axis=2)).min(axis=1)


def grouped_products(catalog: Catalog) -> Iterator[list[StoredProduct]]:
    products, photos, _ = catalog.photos.shape
    for start in range(0, products, BATCH_PRODUCTS):
        yield [
            StoredProduct(
                Product(f"p{i}", category="bench", price=float(catalog.prices[i])),
                MODEL_ID,
                photos=tuple(
                    StoredPhoto(vector_sha256=f"{i}-{j}", vector=catalog.photos[i, j])
                    for j in range(photos)
                ),
            )
            for i in range(start, min(start + BATCH_PRODUCTS, products))
        ]


def single_products(catalog: Catalog) -> Iterator[list[StoredProduct]]:
    """The same points, each its own one-photo product (the product's price)."""
    products, photos, _ = catalog.photos.shape
    batch: list[StoredProduct] = []
    for i in range(products):
        for j in range(photos):
            product = Product(f"p{i}-{j}", category="bench", price=float(catalog.prices[i]))
            batch.append(StoredProduct(product, MODEL_ID, vector=catalog.photos[i, j]))
        if len(batch) >= BATCH_PRODUCTS * photos:
            yield batch
            batch = []
    if batch:
        yield batch


def build(folder: Path, batches: Iterator[list[StoredProduct]], label: str) -> QdrantEdgeStore:
    """vrs's default index (StoreSettings' defaults) over the batches, optimised."""
    store = QdrantEdgeStore.open(
        StoreSettings(data_dir=folder, optimize_after_writes=0), MODEL_ID, DIM
    )
    started = time.perf_counter()
    for batch in batches:
        store.upsert(batch)
    ingest = time.perf_counter() - started
    started = time.perf_counter()
    store.optimize()
    info = store.info()
    print(
        f"[{label}] {info.points} points ingested in {ingest:.1f} s, index built in "
        f"{time.perf_counter() - started:.1f} s",
        flush=True,
    )
    return store


def asking(flt: ProductFilter, exact: bool, ef: int) -> Callable[[np.ndarray], SearchRequest]:
    """The request for a query vector: k nearest products under flt, exactly or by HNSW."""

    def request(q: np.ndarray) -> SearchRequest:
        return SearchRequest(q, K, flt, exact=exact, hnsw_ef=ef)

    return request


def timed(
    store: QdrantEdgeStore,
    queries: np.ndarray,
    request: Callable[[np.ndarray], SearchRequest],
    hit_ok: Callable[[int, list[str]], int] | None,
) -> Timed:
    """Latency of each query's search; `hit_ok(query index, product ids)` counts its hits."""
    for q in queries[:20]:  # warm-up: page cache, allocator
        store.search(request(q))
    timings, found = [], 0
    for n, q in enumerate(queries):
        started = time.perf_counter()
        hits = store.search(request(q))
        timings.append(1000 * (time.perf_counter() - started))
        if hit_ok is not None:
            found += hit_ok(n, [h.stored.product.product_id for h in hits])
    timings.sort()
    recall = found / (K * len(queries)) if hit_ok is not None else float("nan")
    return Timed(recall, statistics.median(timings), timings[int(0.99 * (len(timings) - 1))])


def run(catalog: Catalog) -> None:
    products, photos, _ = catalog.photos.shape
    ceiling = float(np.quantile(catalog.prices, FILTER_SHARE))
    filters = {
        "no filter": (ProductFilter(), None),
        f"price <= {ceiling:.2f} (10% of products)": (
            ProductFilter(max_price=ceiling),
            catalog.prices <= ceiling,
        ),
    }
    started = time.perf_counter()
    truths = {name: grouped_truth(catalog, keep) for name, (_, keep) in filters.items()}
    ef = SearchSettings().hnsw_ef
    print(
        f"{products:,} products x {photos} photos = {products * photos:,} points x {DIM}-d, "
        f"{len(catalog.queries)} queries, k={K}, hnsw_ef {ef}, one query at a time; "
        f"truth in {time.perf_counter() - started:.0f} s; CPU: {cpu_model()}",
        flush=True,
    )

    def scorer(truth: np.ndarray) -> Callable[[int, list[str]], int]:
        def hits(n: int, ids: list[str]) -> int:
            found = np.array([int(i[1:]) for i in ids], dtype=np.int64)
            exact = product_distances(catalog, found, catalog.queries[n])
            return int((exact <= truth[n] * (1 + 1e-6) + 1e-9).sum())

        return hits

    rows: dict[str, dict[str, Timed]] = {}
    with tempfile.TemporaryDirectory(dir="var") as name:
        store = build(Path(name), grouped_products(catalog), "grouped")
        for label, exact in (("grouped, exact", True), ("grouped, HNSW", False)):
            rows[label] = {
                fname: timed(
                    store,
                    catalog.queries,
                    asking(flt, exact, ef),
                    scorer(truths[fname]),
                )
                for fname, (flt, _) in filters.items()
            }
        store.close()
    with tempfile.TemporaryDirectory(dir="var") as name:
        store = build(Path(name), single_products(catalog), "ungrouped")
        rows["ungrouped, HNSW (same points)"] = {
            fname: timed(
                store,
                catalog.queries,
                asking(flt, False, ef),
                None,
            )
            for fname, (flt, _) in filters.items()
        }
        store.close()
    ungrouped = rows["ungrouped, HNSW (same points)"]
    print(f"{'':32}" + "".join(f" | {n:^39}" for n in filters))
    print(f"{'search':32}" + f" | {'R@10':>6} {'p50 ms':>8} {'p99 ms':>8} {'p99/ungr':>9}" * 2)
    for label, cells in rows.items():
        line = "".join(
            f" | {_recall(t.recall)} {t.p50:8.2f} {t.p99:8.2f} {t.p99 / ungrouped[f].p99:9.2f}"
            for f, t in cells.items()
        )
        print(f"{label:32}{line}", flush=True)
    print(
        "R@10: the distinct products found against exact grouped search (a product's distance "
        "is its nearest photo's); the ungrouped row searches one-photo products, its recall is "
        "not comparable and not shown."
    )


def _recall(value: float) -> str:
    return f"{'-':>6}" if np.isnan(value) else f"{value:6.4f}"
