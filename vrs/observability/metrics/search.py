"""What the search service's cache, embedder calls and Qdrant queries are doing."""

from __future__ import annotations

from typing import Literal, get_args

from prometheus_client import Counter, Histogram
from prometheus_client.registry import Collector

from vrs.observability.metrics.grpc_server import LATENCY_BUCKETS
from vrs.observability.metrics.values import count

CacheKind = Literal["result", "embedding"]
CacheOutcome = Literal["hit", "miss", "error"]
RESULT_BUCKETS = (0, 1, 2, 5, 10, 20, 50, 100)


class SearchMetrics:
    """Cache outcomes, stage latencies and answers of one search service."""

    def __init__(self) -> None:
        self.cache_requests = Counter(
            "vrs_search_cache_requests_total",
            "Cache lookups by kind (result, embedding) and outcome (hit, miss, error: Redis "
            "unreachable or a value that cannot be decoded).",
            ("kind", "outcome"),
            registry=None,
        )
        self.embedder_call = Histogram(
            "vrs_search_embedder_call_seconds",
            "Time to embed a query image (the embedder call; in-process in `vrs serve`).",
            buckets=LATENCY_BUCKETS,
            registry=None,
        )
        self.store_query = Histogram(
            "vrs_search_store_query_seconds",
            "Time of the Qdrant nearest-neighbour query, by mode (exact, hnsw).",
            ("mode",),
            buckets=LATENCY_BUCKETS,
            registry=None,
        )
        self.queries = Counter(
            "vrs_search_queries_total",
            "Nearest-neighbour queries sent to Qdrant, by mode (exact, hnsw).",
            ("mode",),
            registry=None,
        )
        self.results = Histogram(
            "vrs_search_results",
            "Matches per computed answer (cached answers excluded).",
            buckets=RESULT_BUCKETS,
            registry=None,
        )
        # Every label value exists from the start: a rate over a series that appears late
        # misses its first increments.
        # Looked up once here: labels() builds a key and takes a lock, on every cache lookup.
        self._cache_requests: dict[tuple[CacheKind, CacheOutcome], Counter] = {
            (kind, outcome): self.cache_requests.labels(kind, outcome)
            for kind in get_args(CacheKind)
            for outcome in get_args(CacheOutcome)
        }
        for mode in ("exact", "hnsw"):
            self.queries.labels(mode)
            self.store_query.labels(mode)

    def searched(self, mode: Literal["exact", "hnsw"], seconds: float, matches: int) -> None:
        """One nearest-neighbour query sent to the store."""
        self.store_query.labels(mode).observe(seconds)
        self.queries.labels(mode).inc()
        self.results.observe(matches)

    def cache(self, kind: CacheKind, outcome: CacheOutcome) -> None:
        self._cache_requests[(kind, outcome)].inc()

    def cache_count(self, kind: CacheKind | None, outcome: CacheOutcome) -> int:
        """Lookups with `outcome`, of `kind` (None: of both kinds)."""
        labels = {"outcome": outcome} | ({} if kind is None else {"kind": kind})
        return count(self.cache_requests, "vrs_search_cache_requests_total", **labels)

    def collectors(self) -> list[Collector]:
        return [
            self.cache_requests,
            self.embedder_call,
            self.store_query,
            self.queries,
            self.results,
        ]
