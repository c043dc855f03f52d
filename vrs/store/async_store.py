"""The vector store for async code: the store's own methods, awaitable, each with a deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TypeVar

from vrs.catalog.products import StoredProduct
from vrs.errors import NotFound, Unavailable
from vrs.evaluation.calibration import Calibration
from vrs.limits import MAX_VARIANTS
from vrs.observability.metrics.store import StoreMetrics
from vrs.store.base import StoreInfo, VectorStore
from vrs.store.filters import ProductFilter
from vrs.store.qdrant_errors import CONNECTION_ERRORS, failure_detail
from vrs.store.query import Collapse, Hit, SearchOutcome, SearchRequest

T = TypeVar("T")

DEPENDENCY = "Qdrant"


class AsyncStore:
    """The one way services reach the vector store.

    Store adapters block (qdrant-client's sync client, or Qdrant Edge working in this
    process); running them on the event loop would stall every other call. Each call runs in
    a small bounded pool (Qdrant does its own parallelism; more threads here would only queue
    there) and has a deadline that counts the wait for a free thread. A call past its deadline
    or failing to reach Qdrant raises Unavailable("Qdrant", ...) naming the operation.
    """

    def __init__(
        self,
        store: VectorStore,
        timeout_s: float,
        workers: int = 4,
        metrics: StoreMetrics | None = None,
    ) -> None:
        self._store = store
        # The store's own metrics; the process registers them (see vrs.observability.metrics).
        self.metrics = metrics or StoreMetrics()
        self._timeout_s = timeout_s
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="vrs-store")
        self._closed = False
        # The calibration and when it was read (see calibration()).
        self._calibration: tuple[Calibration | None, float] | None = None

    @property
    def sync(self) -> VectorStore:
        """The blocking store underneath, for tests and tools that run outside the event loop."""
        return self._store

    async def model_id(self) -> str:
        """The collection's model id; may ask Qdrant (an alias can switch models)."""
        return await self._run("model_id", lambda: self._store.model_id, self._timeout_s)

    async def dimension(self) -> int:
        return await self._run("dimension", lambda: self._store.dimension, self._timeout_s)

    async def upsert(self, items: Sequence[StoredProduct]) -> None:
        """Write each item's photos as points; every photo's vector must be set."""
        await self._write("upsert", lambda: self._store.upsert(items))

    async def delete_points(self, point_ids: Sequence[str]) -> None:
        """Remove these photos' points (photos a product no longer lists)."""
        await self._write("delete_points", lambda: self._store.delete_points(point_ids))

    async def set_attributes(self, items: Sequence[StoredProduct]) -> None:
        """Rewrite the attributes on every photo of each item, leaving their vectors alone."""
        await self._write("set_attributes", lambda: self._store.set_attributes(items))

    async def get(
        self, product_ids: Sequence[str], with_vectors: bool = False
    ) -> dict[str, StoredProduct]:
        """The stored products among `product_ids`, by id; unknown ids are absent."""
        return await self._run(
            "get", lambda: self._store.get(product_ids, with_vectors), self._timeout_s
        )

    async def delete(self, product_ids: Sequence[str]) -> None:
        await self._write("delete", lambda: self._store.delete(product_ids))

    async def search(self, request: SearchRequest, exact_threshold: int) -> SearchOutcome:
        """The request's nearest products (or groups, with their variants) and whether the
        search was exact; NotFound when it is near a product that is not stored.

        Reading the product's photos, counting the filtered set, searching and looking the
        variants up run in one call to the pool (one hop, one deadline). `request.exact` None:
        exact when at most `exact_threshold` photos pass the filter (HNSW loses recall when a
        filter leaves few candidates; an exact scan of a small filtered set is correct and
        cheap).
        """

        def run() -> SearchOutcome:
            resolved = self._resolved(request)
            exact = request.exact
            if exact is None:
                exact = self._store.count(resolved.filter) <= exact_threshold
            hits = self._store.search(resolved.resolved(resolved.vectors, exact))
            if request.collapse is Collapse.GROUP:
                hits = self._with_variants(hits, resolved)
            return SearchOutcome(hits, exact)

        return await self._run("search", run, self._timeout_s)

    def _resolved(self, request: SearchRequest) -> SearchRequest:
        """`request` near vectors: a product's photos (without its variants unless asked)."""
        near = request.near
        if not isinstance(near, str):
            return request
        stored = self._store.get([near], with_vectors=True).get(near)
        vectors = (
            () if stored is None else tuple(p.vector for p in stored.photos if p.vector is not None)
        )
        if stored is None or not vectors:
            raise NotFound(f"product {near!r} is not in the catalog")
        flt = request.filter
        if stored.product.group_id and not request.include_variants:
            flt = replace(
                flt, exclude_group_keys=(*flt.exclude_group_keys, stored.product.group_key)
            )
        return replace(request, filter=flt).resolved(vectors, bool(request.exact))

    def _with_variants(self, hits: list[Hit], request: SearchRequest) -> list[Hit]:
        """Each group's hit with the group's other products that pass the same filter."""
        keys = [h.stored.product.group_key for h in hits if h.stored.product.group_id]
        found = self._store.variants(request.vector, keys, request.filter, MAX_VARIANTS + 1)
        return [
            replace(
                hit,
                variants=tuple(
                    v.stored
                    for v in found.get(hit.stored.product.group_key, [])
                    if v.stored.product.product_id != hit.stored.product.product_id
                )[:MAX_VARIANTS],
            )
            for hit in hits
        ]

    async def count(self, flt: ProductFilter) -> int:
        return await self._run("count", lambda: self._store.count(flt), self._timeout_s)

    async def currencies(self) -> tuple[str, ...]:
        return await self._run("currencies", self._store.currencies, self._timeout_s)

    async def calibration(self, max_age_s: float = 0.0) -> Calibration | None:
        """The collection's calibration, as read at most `max_age_s` ago (this process's own
        set_calibration counts as a read: it is seen at once)."""
        known = self._calibration
        if known is None or time.monotonic() - known[1] >= max_age_s:
            value = await self._run("calibration", self._store.calibration, self._timeout_s)
            known = self._calibration = (value, time.monotonic())
        return known[0]

    async def set_calibration(self, calibration: Calibration) -> None:
        await self._run(
            "set_calibration", lambda: self._store.set_calibration(calibration), self._timeout_s
        )
        self._calibration = (calibration, time.monotonic())

    async def info(self) -> StoreInfo:
        info = await self._run("info", self._store.info, self._timeout_s)
        self.metrics.points.set(info.points)
        self.metrics.indexed_vectors.set(info.indexed_vectors)
        return info

    async def optimize(self, *, timeout_s: float | None) -> bool:
        """Build or refresh the vector index; True when anything was rebuilt.

        Index builds take as long as the data needs, so the caller says how long it will
        wait: None waits for the build to end (a deadline would abandon a useful build).
        """
        return await self._run("optimize", self._store.optimize, timeout_s)

    async def close(self) -> None:
        """Waits for calls already running, drops queued ones, then closes the store."""
        if self._closed:
            return
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(None, self._shutdown)

    def _shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._store.close()

    async def _write(self, operation: str, call: Callable[[], None]) -> None:
        started = time.perf_counter()
        try:
            await self._run(operation, call, self._timeout_s)
        finally:
            self.metrics.write.labels(operation).observe(time.perf_counter() - started)

    async def _run(self, operation: str, call: Callable[[], T], timeout_s: float | None) -> T:
        if self._closed:
            raise Unavailable(DEPENDENCY, f"{operation}: the store is closed")
        future = asyncio.get_running_loop().run_in_executor(self._executor, call)
        try:
            answer = await asyncio.wait_for(future, timeout_s)
        except CONNECTION_ERRORS as exc:
            self.metrics.qdrant.failed()
            # wait_for cancels the call it gave up on; a TimeoutError the call raised itself
            # (a socket's) leaves it done, and is a failure to reach Qdrant like the others.
            if isinstance(exc, TimeoutError) and future.cancelled():
                raise Unavailable(
                    DEPENDENCY, f"{operation}: no answer within the {timeout_s}s deadline"
                ) from exc
            raise Unavailable(DEPENDENCY, f"{operation}: {failure_detail(exc)}") from exc
        self.metrics.qdrant.reached()
        return answer
