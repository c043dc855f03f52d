"""ANN at scale on Qdrant Edge: HNSW (and int8 scalar quantization) recall@10 and latency
against exact search, unfiltered and under a filter that keeps 10% of the points.

    nice -n 10 python -m benchmarks.ann_scale [--points 100000] [--quick]
    nice -n 10 python -m benchmarks.ann_scale --grouped [--products 30000 --photos 4]

--grouped: products with several photos searched for distinct products (benchmarks.ann_grouped).

The data: the seed catalog's photos embedded with efficientnet_lite0's real weights (1280-d),
lifted to 2048-d by a fixed random isometry (distances unchanged, every dimension used), and
synthetic points drawn around them: cluster centres from the Gaussian fitted to the seed
vectors (their mean and principal directions), points spread around each centre (a third of
the catalog's spread) plus a little isotropic noise. The queries are shop photos of the seed
products (vrs.evaluation.queryset, same model and lift) and fresh points of the clusters.
Prices are uniform in 1..500 (the seed products keep theirs); the filter is a price ceiling
that keeps 10% of the points. The truth is numpy's exact Euclidean top 10 (float64); a hit
counts when its distance is within the 10th true distance (ties are not misses).

Everything goes through QdrantEdgeStore (open, upsert, optimize, search): vrs's real path.
The seed vectors are cached in var/bench/ (embedding them takes a minute); without the
catalog or the weights the seeds are synthetic too, and the run says so.
Prints numbers; asserts nothing."""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.ann_grouped import run as grouped_run
from benchmarks.ann_grouped import with_photos
from benchmarks.machine import SEED_CATALOG
from vrs.catalog.products import Product, StoredProduct
from vrs.settings import StoreSettings
from vrs.store.filters import ProductFilter
from vrs.store.qdrant_edge_store import QdrantEdgeStore
from vrs.store.query import SearchRequest

DIM = 2048
MODEL_ID = "ann-scale@bench"
CACHE = Path("var/bench/ann_scale_seed_vectors.npz")
CLUSTER_SIZE = 100
SPREAD = 0.33
NOISE = 0.05
FILTER_SHARE = 0.10
NARROW_FILTER_SHARE = 0.03
BATCH = 1000
K = 10


@dataclass(frozen=True)
class Build:
    """How one index is built: HNSW degree and beam width, int8 scalar quantization or not."""

    m: int
    ef_construct: int
    quantized: bool = False

    @property
    def name(self) -> str:
        return f"m{self.m} efc{self.ef_construct}" + (" int8" if self.quantized else "")


@dataclass(frozen=True)
class Probe:
    """How one search runs on a build: beam width, and for int8 the rescoring oversampling."""

    ef: int
    oversampling: float = 1.0
    rescore: bool = True

    def name(self, build: Build) -> str:
        if not build.quantized:
            return f"ef {self.ef}"
        return f"ef {self.ef} os {self.oversampling:g}" + ("" if self.rescore else " norescore")


@dataclass(frozen=True)
class Data:
    """The catalog (vectors, prices), the queries and the 10% price ceiling."""

    vectors: np.ndarray
    prices: np.ndarray
    queries: np.ndarray
    ceiling: float
    origin: str


@dataclass(frozen=True)
class Row:
    """Recall@10 and latency of one way of searching, under one filter."""

    recall: float
    p50: float
    p99: float
    # CPU time of this process per query (the engine's search threads included): what the
    # search costs, whatever else the machine runs.
    cpu50: float


def lift(vectors: np.ndarray) -> np.ndarray:
    """1280-d (or any d <= 2048) to 2048-d by orthonormal columns: every distance is kept."""
    basis, _ = np.linalg.qr(np.random.default_rng(7).normal(size=(DIM, vectors.shape[1])))
    lifted: np.ndarray = (vectors.astype(np.float64) @ basis.T).astype(np.float32)
    return lifted


def seed_catalog(catalog: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Seed vectors, their prices and shop-photo query vectors (2048-d), from the cache or by
    embedding the catalog; synthetic stand-ins when the catalog or the weights are missing."""
    if CACHE.is_file():
        cached = np.load(CACHE)
        return cached["seeds"], cached["prices"], cached["shops"], str(cached["origin"])
    try:
        seeds, prices, shops, origin = _embed_seed_catalog(catalog)
    except (OSError, ImportError, RuntimeError) as exc:
        print(f"seed catalog not embedded ({type(exc).__name__}: {exc}): synthetic seeds")
        rng = np.random.default_rng(1)
        base = np.abs(rng.normal(size=(202, 1280))).astype(np.float32)
        shops = base + rng.normal(scale=0.3, size=base.shape).astype(np.float32)
        return lift(base), rng.uniform(1, 100, len(base)), lift(shops), "synthetic seeds"
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    np.savez(CACHE, seeds=seeds, prices=prices, shops=shops, origin=np.array(origin))
    return seeds, prices, shops, origin


def _embed_seed_catalog(catalog: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    # The model stack only when the cache is cold: the benchmark itself needs none of it.
    from services.embedder.decoding.cpu_decode import prepare
    from services.embedder.models.backbones import BACKBONES
    from services.embedder.models.weights import load_model
    from services.embedder.runtimes.engine import InferenceEngine
    from vrs.evaluation.queryset import SourcePhoto, make_query_set
    from vrs.settings import ModelSettings

    with (catalog / "catalog.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    settings = ModelSettings.model_validate({"backbone": "efficientnet_lite0"})
    backbone = BACKBONES[settings.backbone]
    loaded = load_model(backbone, settings)
    engine = InferenceEngine(backbone, loaded, settings)
    sources = [SourcePhoto(r["product_id"], catalog / r["image"], r["category"]) for r in rows]
    with tempfile.TemporaryDirectory() as folder:
        shots, failures = make_query_set(sources, Path(folder), 1, 1)
        if failures:
            raise RuntimeError("; ".join(failures))
        photos = [(Path(folder) / s.image).read_bytes() for s in shots]
    images = [s.image.read_bytes() for s in sources] + photos
    pixels = [prepare(data, 10**8, engine.crop) for data in images]
    vectors = np.concatenate([engine.embed(pixels[i : i + 32]) for i in range(0, len(pixels), 32)])
    prices = np.array([float(r["price"]) for r in rows])
    lifted = lift(vectors)
    return lifted[: len(rows)], prices, lifted[len(rows) :], f"{loaded.model_id}, lifted to 2048-d"


def make_data(points: int, catalog: Path, synthetic_queries: int) -> Data:
    """The seed vectors and `points - seeds` synthetic ones around them, with the queries."""
    seeds, seed_prices, shops, origin = seed_catalog(catalog)
    rng = np.random.default_rng(0)
    mean = seeds.mean(axis=0)
    _, sv, axes = np.linalg.svd(seeds - mean, full_matrices=False)
    scale = sv / np.sqrt(len(seeds) - 1)  # std along each principal direction

    def draw(n: int) -> np.ndarray:
        return ((rng.normal(size=(n, len(scale))) * scale) @ axes).astype(np.float32)

    clusters = max(1, points // CLUSTER_SIZE)
    centres = mean + draw(clusters)
    noise = NOISE * float(np.sqrt((scale**2).sum() / DIM))
    synthetic = points - len(seeds)
    owner = rng.integers(0, clusters, synthetic)
    body = centres[owner] + SPREAD * draw(synthetic)
    body += rng.normal(scale=noise, size=body.shape).astype(np.float32)
    vectors = np.concatenate([seeds, body]).astype(np.float32)
    prices = np.concatenate([seed_prices, np.round(rng.uniform(1, 500, synthetic), 2)])
    fresh = centres[rng.integers(0, clusters, synthetic_queries)] + SPREAD * draw(synthetic_queries)
    queries = np.concatenate([shops, fresh]).astype(np.float32)
    ceiling = float(np.quantile(prices, FILTER_SHARE))
    return Data(vectors, prices, queries, ceiling, origin)


def exact_neighbours(data: Data, mask: np.ndarray | None) -> np.ndarray:
    """Each query's 10th smallest true distance (float64) among the points the mask keeps."""
    chosen = np.flatnonzero(mask) if mask is not None else np.arange(len(data.vectors))
    stored = data.vectors[chosen]
    norms = (stored.astype(np.float64) ** 2).sum(axis=1)
    tenth = np.empty(len(data.queries))
    for i, q in enumerate(data.queries):
        approx = norms - 2 * (stored @ q).astype(np.float64)
        candidates = np.argpartition(approx, 4 * K)[: 4 * K]
        exact = np.sqrt(((stored[candidates].astype(np.float64) - q) ** 2).sum(axis=1))
        tenth[i] = np.sort(exact)[K - 1]
    return tenth


def products(data: Data) -> Iterator[list[StoredProduct]]:
    for start in range(0, len(data.vectors), BATCH):
        yield [
            StoredProduct(
                Product(f"p{i}", category="bench", price=float(data.prices[i])),
                MODEL_ID,
                vector=data.vectors[i],
            )
            for i in range(start, min(start + BATCH, len(data.vectors)))
        ]


def measure(
    store: QdrantEdgeStore,
    data: Data,
    tenth: np.ndarray,
    flt: ProductFilter,
    exact: bool,
    ef: int | None,
) -> Row:
    for q in data.queries[:20]:  # warm-up: page cache, allocator
        store.search(SearchRequest(q, K, flt, exact=exact, hnsw_ef=ef))
    timings, cpu, found = [], [], 0
    for q, limit in zip(data.queries, tenth, strict=True):
        started, cpu_started = time.perf_counter(), time.process_time()
        hits = store.search(SearchRequest(q, K, flt, exact=exact, hnsw_ef=ef))
        timings.append(1000 * (time.perf_counter() - started))
        cpu.append(1000 * (time.process_time() - cpu_started))
        ids = [int(h.stored.product.product_id[1:]) for h in hits]
        true = np.sqrt(((data.vectors[ids].astype(np.float64) - q) ** 2).sum(axis=1))
        found += int((true <= limit * (1 + 1e-6) + 1e-9).sum())
    timings.sort()
    return Row(
        found / (K * len(data.queries)),
        statistics.median(timings),
        timings[int(0.99 * (len(timings) - 1))],
        statistics.median(cpu),
    )


def settings_for(folder: Path, build: Build, probe: Probe | None = None) -> StoreSettings:
    return StoreSettings(
        data_dir=folder,
        optimize_after_writes=0,
        hnsw_m=build.m,
        hnsw_ef_construct=build.ef_construct,
        scalar_quantization=build.quantized,
        quantization_oversampling=probe.oversampling if probe else 1.0,
        quantization_rescore=probe.rescore if probe else True,
    )


def run_build(
    build: Build,
    probes: list[Probe],
    data: Data,
    truths: dict[str, np.ndarray],
    filters: dict[str, ProductFilter],
    baseline: dict[str, Row] | None,
) -> dict[str, Row]:
    """Ingests, builds, prints one row per probe; measures exact search first when asked."""
    with tempfile.TemporaryDirectory(dir="var") as name:
        folder = Path(name)
        store = QdrantEdgeStore.open(settings_for(folder, build), MODEL_ID, DIM)
        started = time.perf_counter()
        for batch in products(data):
            store.upsert(batch)
        ingest = time.perf_counter() - started
        started = time.perf_counter()
        store.optimize()
        built = time.perf_counter() - started
        info = store.info()
        print(
            f"[{build.name}] {info.points} points ingested at {info.points / ingest:,.0f} "
            f"vectors/s ({ingest:.1f} s), index built in {built:.1f} s "
            f"({info.indexed_vectors} indexed)",
            flush=True,
        )
        if baseline is None:
            baseline = {
                name: measure(store, data, truths[name], flt, True, None)
                for name, flt in filters.items()
            }
            print_row("exact", baseline, baseline)
        current: tuple[float, bool] = (1.0, True)
        for probe in probes:
            if build.quantized and (probe.oversampling, probe.rescore) != current:
                # Rescoring and oversampling are store settings: reopen with the probe's.
                store.close()
                store = QdrantEdgeStore.open(settings_for(folder, build, probe), MODEL_ID, DIM)
                current = (probe.oversampling, probe.rescore)
            rows = {
                name: measure(store, data, truths[name], flt, False, probe.ef)
                for name, flt in filters.items()
            }
            print_row(f"{build.name}, {probe.name(build)}", rows, baseline)
        store.close()
        # After close: the segments the build replaced are gone by then.
        print(f"[{build.name}] bytes/point on disk: {footprint(folder, info.points)}")
    return baseline


def footprint(folder: Path, points: int) -> str:
    """Bytes per point on disk after the build, by component (the WAL left out)."""
    parts: dict[str, int] = {}
    for file in folder.rglob("*"):
        path = file.as_posix()
        if not file.is_file() or "/wal/" in path:
            continue
        kind = next(
            (
                name
                for key, name in (
                    ("quantiz", "int8"),
                    ("vector_index", "hnsw"),
                    ("vector_storage", "vectors"),
                    ("payload", "payload"),
                )
                if key in path
            ),
            "other",
        )
        # Allocated blocks, not sizes: storages preallocate sparse files.
        parts[kind] = parts.get(kind, 0) + file.stat().st_blocks * 512
    return ", ".join(f"{name} {size / points:,.0f}" for name, size in sorted(parts.items()))


def print_header(filters: dict[str, ProductFilter]) -> None:
    cells = "".join(f" | {name:^41}" for name in filters)
    print(f"{'':30}{cells}")
    cell = f" | {'R@10':>6} {'p50 ms':>7} {'p99 ms':>7} {'p99/ex':>7} {'cpu ms':>6}"
    print(f"{'config':30}{cell * len(filters)}")


def print_row(label: str, rows: dict[str, Row], baseline: dict[str, Row]) -> None:
    cells = "".join(
        f" | {r.recall:6.4f} {r.p50:7.2f} {r.p99:7.2f} {r.p99 / baseline[n].p99:7.2f} "
        f"{r.cpu50:6.2f}"
        for n, r in rows.items()
    )
    print(f"{label:30}{cells}", flush=True)


def parse_builds(text: str) -> list[Build]:
    """ "16:128,32:256:int8" -> builds (m:ef_construct[:int8])."""
    builds = []
    for item in text.split(","):
        parts = item.split(":")
        builds.append(Build(int(parts[0]), int(parts[1]), parts[2:] == ["int8"]))
    return builds


def parse_probes(text: str) -> list[Probe]:
    """ "64,128,128x2" -> probes (ef[xoversampling]; a trailing n: no rescoring)."""
    probes = []
    for item in text.split(","):
        rescore = not item.endswith("n")
        ef, _, over = item.rstrip("n").partition("x")
        probes.append(Probe(int(ef), float(over or 1), rescore))
    return probes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--synthetic-queries", type=int, default=200)
    parser.add_argument(
        "--builds", default="16:100,24:200:int8", help="m:efc[:int8],... (the first: old default)"
    )
    parser.add_argument("--probes", default="128,64x2,128x2,256x2", help="ef[xoversampling][n],...")
    parser.add_argument("--catalog", type=Path, default=SEED_CATALOG)
    parser.add_argument("--quick", action="store_true", help="5k points, 50 queries, 1 build")
    parser.add_argument("--grouped", action="store_true", help="products with several photos")
    parser.add_argument("--products", type=int, default=30_000, help="--grouped: products")
    parser.add_argument("--photos", type=int, default=4, help="--grouped: photos per product")
    args = parser.parse_args()
    if args.grouped:
        data = make_data(args.products, args.catalog, args.synthetic_queries)
        sample = data.vectors[:: max(1, len(data.vectors) // 2000)].astype(np.float64)
        spread = float(np.sqrt(((sample - sample.mean(axis=0)) ** 2).sum(axis=1).mean()))
        catalog = with_photos(data.vectors, data.prices, data.queries, args.photos, SPREAD * spread)
        grouped_run(catalog)
        return
    if args.quick:
        args.points, args.synthetic_queries, args.builds = 5_000, 50, "16:100:int8"
        args.probes = "64,64x2"
    builds, probes = parse_builds(args.builds), parse_probes(args.probes)
    started = time.perf_counter()
    data = make_data(args.points, args.catalog, args.synthetic_queries)
    filters: dict[str, ProductFilter] = {"no filter": ProductFilter()}
    masks: dict[str, np.ndarray | None] = {"no filter": None}
    # The 10% filter, and a narrower one just above VRS_SEARCH_EXACT_THRESHOLD's
    # default share at 100k (2%), the most selective filter HNSW still serves.
    for share in (FILTER_SHARE, NARROW_FILTER_SHARE):
        ceiling = float(np.quantile(data.prices, share))
        mask = data.prices <= ceiling
        name = f"price <= {ceiling:.2f} ({mask.mean():.0%})"
        filters[name] = ProductFilter(max_price=ceiling)
        masks[name] = mask
    truths = {name: exact_neighbours(data, m) for name, m in masks.items()}
    print(
        f"{len(data.vectors)} points x {DIM}-d ({data.origin}; {len(data.queries)} queries), "
        f"k={K}, one query at a time; data and truth in {time.perf_counter() - started:.0f} s"
    )
    print_header(filters)
    baseline: dict[str, Row] | None = None
    for build in builds:
        chosen = [p for p in probes if build.quantized or p == Probe(p.ef)]
        baseline = run_build(build, chosen, data, truths, filters, baseline)


if __name__ == "__main__":
    main()
