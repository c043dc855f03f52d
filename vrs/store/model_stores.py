"""The collections of other models than the process's own, opened on demand, a bounded few."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from vrs.errors import ConfigurationError, NotFound, Unavailable
from vrs.settings import StoreSettings
from vrs.store.async_store import DEPENDENCY, AsyncStore
from vrs.store.base import VectorStore, check_model_id
from vrs.store.factory import open_store_for_reading, open_store_for_writing
from vrs.store.qdrant_edge_store import existing_dimension

log = logging.getLogger(__name__)


class ModelStores:
    """Stores of vectors imported for any model (`vrs import-vectors --model-id`), by model id.

    One per process and shared by its services: a Qdrant Edge directory has one owner, so the
    search service of an "all" process must read the very store the embedder writes. Aliases
    are never used or switched here: they belong to the process's own model.
    """

    def __init__(self, settings: StoreSettings) -> None:
        self._settings = settings.model_copy(update={"alias": None, "alias_switch": False})
        self._open: OrderedDict[str, AsyncStore] = OrderedDict()
        self._lock = asyncio.Lock()
        # Opening blocks (files, a Qdrant round trip): one at a time, off the event loop.
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="vrs-model-stores")

    async def for_reading(self, model_id: str) -> AsyncStore:
        """The collection of `model_id`; NotFound when nothing was ever imported for it."""
        check_model_id(model_id)
        return await self._get(model_id, lambda: self._open_for_reading(model_id))

    async def for_writing(self, model_id: str, dimension: int) -> AsyncStore:
        """The collection of `model_id`, created for `dimension`-d vectors when missing."""
        check_model_id(model_id)
        return await self._get(model_id, lambda: self._open_for_writing(model_id, dimension))

    async def close(self) -> None:
        async with self._lock:
            stores, self._open = list(self._open.values()), OrderedDict()
        for store in stores:
            await store.close()
        self._executor.shutdown(wait=False)

    async def _get(self, model_id: str, opener: Callable[[], VectorStore]) -> AsyncStore:
        async with self._lock:
            store = self._open.get(model_id)
            if store is not None:
                self._open.move_to_end(model_id)
                return store
            job = self._executor.submit(opener)
            try:
                opened = await asyncio.wait_for(
                    asyncio.shield(asyncio.wrap_future(job)), self._settings.timeout_s
                )
            except TimeoutError as exc:
                # The open goes on in its thread: whatever it opens late is closed, not leaked.
                job.add_done_callback(_close_late)
                raise Unavailable(
                    DEPENDENCY,
                    f"opening the collection of model {model_id!r}: no answer within the "
                    f"{self._settings.timeout_s}s deadline",
                ) from exc
            store = AsyncStore(opened, self._settings.timeout_s)
            self._open[model_id] = store
            evicted = (
                self._open.popitem(last=False)[1]
                if len(self._open) > self._settings.max_open_collections
                else None
            )
        if evicted is not None:
            await evicted.close()
        log.info("collection of another model open", extra={"model_id": model_id})
        return store

    def _open_for_writing(self, model_id: str, dimension: int) -> VectorStore:
        try:
            # An existing collection keeps its dimension: vectors of another one fail alone.
            return self._open_for_reading(model_id)
        except NotFound:
            return open_store_for_writing(self._settings, model_id, dimension)

    def _open_for_reading(self, model_id: str) -> VectorStore:
        if self._settings.url:
            try:
                return open_store_for_reading(self._settings, model_id)
            except ConfigurationError as exc:
                raise _no_collection(model_id) from exc
        dimension = existing_dimension(self._settings, model_id)
        if dimension is None:
            raise _no_collection(model_id)
        return open_store_for_writing(self._settings, model_id, dimension)


def _no_collection(model_id: str) -> NotFound:
    return NotFound(
        f"no collection of model {model_id!r}: import its vectors first "
        f"(vrs import-vectors FILE --model-id {model_id})"
    )


def _close_late(job: Future[VectorStore]) -> None:
    if not job.cancelled() and job.exception() is None:
        job.result().close()
