"""Keeping the store in step with the catalog: upserts, attribute updates, deletes.

An upsert runs in four steps, each a small function with a named result: load (validate,
fetch the image or check the vector) -> plan (what each item needs, given what the store
holds: see upsert_plan) -> embed (only images the store has not seen for the product) ->
gate (the events applier's last word) -> write. Every change bumps the catalog generation so
no cached search result outlives it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from services.embedder.catalog.items import (
    CHANGES,
    ItemResult,
    Known,
    LoadedItem,
    Outcome,
    UpsertItem,
    WriteGate,
    failed,
)
from services.embedder.catalog.other_models import other_models, upsert_other_models
from services.embedder.catalog.upsert_plan import UpsertPlan, plan_upsert, stored_item
from services.embedder.embedding.embedder import ImageEmbedder
from vrs.catalog.products import ProductPatch, StoredProduct
from vrs.catalog.vectors import checked_vector
from vrs.errors import InvalidInput, InvalidVector, ModelMismatch, NotFound, VrsError
from vrs.images.source import ImageFetcher, sha256_hex
from vrs.redis_access.generation import CatalogGeneration
from vrs.store.async_store import AsyncStore
from vrs.store.model_stores import ModelStores

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Loaded:
    """The items that loaded, and the failures of those that did not, by item index."""

    items: list[LoadedItem]
    failures: dict[int, ItemResult]


@dataclass(frozen=True)
class Writes:
    """What goes to the store: whole points (vector and payload) and payload-only rewrites."""

    points: list[StoredProduct]
    rewrites: list[StoredProduct]


class CatalogWriter:
    """Writes catalog changes to the store, embedding only new images, and bumps the generation."""

    def __init__(
        self,
        embedder: ImageEmbedder,
        store: AsyncStore,
        generation: CatalogGeneration | None,
        fetcher: ImageFetcher,
        stores: ModelStores | None = None,
    ) -> None:
        self._embedder = embedder
        self._fetcher = fetcher
        self._store = store
        self._generation = generation
        # Vectors of other models go to their own collections, when the process has them.
        self._stores = stores
        self.model_id = embedder.model_id

    async def upsert(
        self, items: Sequence[UpsertItem], known: Known | None = None, gate: WriteGate | None = None
    ) -> list[ItemResult]:
        """One result per item, in order. `known`: the stored products, when the caller has
        just read them (else read here). `gate`: asked right before the store write which
        products must not be written.

        A vector of another model goes to that model's collection (created when missing);
        a vector upsert keeps the stored attributes its item leaves empty."""
        now = _now()
        results: dict[int, ItemResult] = {}
        others = other_models(items, self.model_id) if gate is None and self._stores else {}
        if others and self._stores is not None:
            results.update(await upsert_other_models(self._stores, self._store, items, others, now))
        loaded = await self._load_all(items, skip=results.keys())
        results.update(loaded.failures)
        existing = await self._stored_products([e.product_id for e in loaded.items], known)
        plan = plan_upsert(loaded.items, existing, self.model_id, now)
        results.update(plan.settled)
        writes = Writes(plan.ready + await self._embed(plan, existing, now, results), plan.rewrites)
        if gate is not None:
            writes = await _through_gate(gate, loaded.items, results, writes)
        await self._write(writes)
        written = {w.product.product_id for w in writes.points}
        for entry in loaded.items:
            if entry.index not in results and entry.product_id in written:
                results[entry.index] = ItemResult(entry.product_id, Outcome.UPSERTED)
        if writes.points or any(r.outcome in CHANGES for r in results.values()):
            await self._changed()
        return [results[i] for i in range(len(items))]

    async def _load_all(self, items: Sequence[UpsertItem], skip: Collection[int]) -> Loaded:
        """Every item not in `skip` validated and its image fetched, concurrently."""
        indexes = [i for i in range(len(items)) if i not in skip]
        attempts = await asyncio.gather(
            *(self._load(i, items[i]) for i in indexes), return_exceptions=True
        )
        loaded: list[LoadedItem] = []
        failures: dict[int, ItemResult] = {}
        for i, attempt in zip(indexes, attempts, strict=True):
            if isinstance(attempt, LoadedItem):
                loaded.append(attempt)
            else:
                failures[i] = failed(items[i].product.product_id, attempt)
        return Loaded(loaded, failures)

    async def _embed(
        self,
        plan: UpsertPlan,
        existing: dict[str, StoredProduct],
        now: str,
        results: dict[int, ItemResult],
    ) -> list[StoredProduct]:
        """The planned images embedded in one batch, as points to write; an image the model
        refuses fails its item alone (into `results`)."""
        entries = plan.to_embed
        vectors = await self._embedder.embed_many([e.data for e in entries if e.data is not None])
        points: list[StoredProduct] = []
        for entry, vector in zip(entries, vectors, strict=True):
            if isinstance(vector, BaseException):
                results[entry.index] = failed(entry.product_id, vector)
            else:
                prev = existing.get(entry.product_id)
                points.append(stored_item(entry, vector, self.model_id, now, prev))
        return points

    async def _write(self, writes: Writes) -> None:
        if writes.points:
            await self._store.upsert(writes.points)
        if writes.rewrites:
            await self._store.set_attributes(writes.rewrites)

    async def update(
        self, patches: Sequence[ProductPatch], known: Known | None = None
    ) -> list[ItemResult]:
        """Attribute changes only: the vectors stay, the model does not run."""
        existing = await self._stored_products(
            [p.product_id for p in patches if p.product_id], known
        )
        results: list[ItemResult] = []
        rewrites: list[StoredProduct] = []
        now = _now()
        for patch in patches:
            prev = existing.get(patch.product_id)
            try:
                if not patch.product_id:
                    raise InvalidInput("product_id is missing")
                if prev is None:
                    raise NotFound(f"product {patch.product_id!r} is not in the catalog")
                product = patch.apply(prev.product)
            except VrsError as exc:
                results.append(failed(patch.product_id, exc))
                continue
            versions = {**prev.versions, **patch.versions}
            changed = product != prev.product
            if changed or versions != prev.versions:
                stored = replace(prev, product=product, updated_at=now, versions=versions)
                existing[patch.product_id] = stored  # later patches in the batch build on it
                rewrites.append(stored)
            outcome = Outcome.UPDATED if changed else Outcome.UNCHANGED
            results.append(ItemResult(patch.product_id, outcome))
        if rewrites:
            await self._store.set_attributes(rewrites)
        if any(r.outcome is Outcome.UPDATED for r in results):
            await self._changed()
        return results

    async def delete(
        self, product_ids: Sequence[str], known: Known | None = None
    ) -> tuple[list[str], list[str]]:
        """(deleted, not found)."""
        ids = list(dict.fromkeys(pid for pid in product_ids if pid))
        if not ids:
            raise InvalidInput("no product ids to delete")
        existing = await self._stored_products(ids, known)
        deleted = [pid for pid in ids if pid in existing]
        if deleted:
            await self._store.delete(deleted)
            await self._changed()
        return deleted, [pid for pid in ids if pid not in existing]

    async def _stored_products(
        self, ids: list[str], known: Known | None
    ) -> dict[str, StoredProduct]:
        if known is not None:
            return {pid: known[pid] for pid in ids if pid in known}
        return await self._store.get(ids)

    async def optimize(self) -> bool:
        # Index builds take as long as they take; a deadline would abandon a useful build.
        return await self._store.optimize(timeout_s=None)

    async def _changed(self) -> None:
        # After the store write, and never failing it: a bump Redis does not take now stays
        # pending and is retried until it lands (vrs.redis_access.generation).
        if self._generation is not None:
            await self._generation.bump()

    async def _load(self, index: int, item: UpsertItem) -> LoadedItem:
        product = item.product.validated()
        if item.image is not None and item.vector is not None:
            raise InvalidInput(
                f"product {product.product_id!r}: give an image or a vector, not both"
            )
        if item.image is not None:
            if not product.image_uri and item.image.uri:
                # The URI becomes an attribute: held to its size limit, before any fetch.
                product = replace(product, image_uri=item.image.uri).validated()
            data = await self._fetcher.load(item.image)
            return LoadedItem(index, item, product, data=data, image_sha256=sha256_hex(data))
        if item.vector is not None:
            if item.vector_model_id and item.vector_model_id != self.model_id:
                raise ModelMismatch(
                    f"product {product.product_id!r}: vector of model {item.vector_model_id!r}, "
                    f"the collection holds model {self.model_id!r}"
                )
            vector = checked_vector(
                item.vector, self._embedder.dimension, f"vector of {product.product_id!r}"
            )
            if not item.vector_model_id:
                # Without it nothing shows the vector comes from this collection's model.
                raise InvalidVector(
                    f"vector for product {product.product_id!r} has no model_id; set it to the "
                    f"model that computed the vector (the collection holds {self.model_id!r})"
                )
            return LoadedItem(
                index, item, product, vector=vector, vector_sha256=sha256_hex(vector.tobytes())
            )
        raise InvalidInput(f"product {product.product_id!r} has neither an image nor a vector")


async def _through_gate(
    gate: WriteGate, loaded: list[LoadedItem], results: dict[int, ItemResult], writes: Writes
) -> Writes:
    """The writes the gate lets through; the items it stops fail with its error."""
    refused = await gate([s.product.product_id for s in (*writes.points, *writes.rewrites)])
    if not refused:
        return writes
    for entry in loaded:
        error = refused.get(entry.product_id)
        if error is not None:
            results[entry.index] = ItemResult(entry.product_id, Outcome.FAILED, error)
    return Writes(
        [s for s in writes.points if s.product.product_id not in refused],
        [s for s in writes.rewrites if s.product.product_id not in refused],
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
