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

import numpy as np

from services.embedder.catalog.items import (
    CHANGES,
    ItemResult,
    Known,
    LoadedItem,
    LoadedPhoto,
    Outcome,
    UpsertItem,
    WriteGate,
    failed,
)
from services.embedder.catalog.other_models import other_models, upsert_other_models
from services.embedder.catalog.upsert_plan import (
    UpsertPlan,
    needs_model,
    photos_to_keep,
    plan_upsert,
    stored_item,
)
from services.embedder.embedding.embedder import ImageEmbedder
from vrs.catalog.products import ProductPatch, StoredProduct, check_photos
from vrs.catalog.vectors import checked_vector
from vrs.errors import InvalidInput, InvalidVector, ModelMismatch, NotFound, VrsError
from vrs.evaluation.calibration import Calibration
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
    """What goes to the store: products' photos (vectors and payloads), attribute-only
    rewrites, and the photos written products no longer have (point ids by product)."""

    points: list[StoredProduct]
    rewrites: list[StoredProduct]
    drops: dict[str, list[str]]


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
        keep = photos_to_keep(loaded.items, existing, self.model_id)
        if keep:
            # Their unchanged photos' vectors, so the model runs only on the new ones.
            existing.update(await self._store.get(keep, with_vectors=True))
        plan = plan_upsert(loaded.items, existing, self.model_id, now)
        results.update(plan.settled)
        embedded = await self._embed(plan, existing, now, results)
        written_ids = {s.product.product_id for s in plan.ready + embedded}
        drops = {pid: ids for pid, ids in plan.drops.items() if pid in written_ids}
        writes = Writes(plan.ready + embedded, plan.rewrites, drops)
        if gate is not None:
            writes = await _through_gate(gate, loaded.items, results, writes)
        await self._write(writes)
        written = {w.product.product_id for w in writes.points}
        for entry in loaded.items:
            if entry.index not in results and entry.product_id in written:
                outcome = plan.outcomes.get(entry.index, Outcome.UPSERTED)
                results[entry.index] = ItemResult(entry.product_id, outcome)
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
        """The planned photos embedded in one batch, as products to write; a photo the model
        refuses fails its product alone (into `results`): no product is written in part."""
        wanted = [(entry, needs_model(entry, plan)) for entry in plan.to_embed]
        images = [photo.data or b"" for _, photos in wanted for photo in photos]
        vectors = iter(await self._embedder.embed_many(images))
        products: list[StoredProduct] = []
        for entry, photos in wanted:
            answers = [next(vectors) for _ in photos]
            error = next((a for a in answers if isinstance(a, BaseException)), None)
            if error is not None:
                results[entry.index] = failed(entry.product_id, error)
                continue
            done = [a for a in answers if not isinstance(a, BaseException)]
            kept = plan.kept.get(entry.product_id, {})
            prev = existing.get(entry.product_id)
            products.append(stored_item(entry, done, kept, self.model_id, now, prev))
        return products

    async def _write(self, writes: Writes) -> None:
        # Photos first, then the ones dropped: once the call returns, a search sees only the
        # product's current photos; while it runs, it may see both (never none).
        if writes.points:
            await self._store.upsert(writes.points)
        dropped = [point for points in writes.drops.values() for point in points]
        if dropped:
            await self._store.delete_points(dropped)
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

    async def set_calibration(self, calibration: Calibration) -> Calibration:
        """Keeps `calibration` (stamped now) with the collection; cached results, labelled by
        the one before, are dropped with the generation."""
        stamped = replace(calibration.validated(), calibrated_at=_now())
        await self._store.set_calibration(stamped)
        await self._changed()
        return stamped

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
        pid = product.product_id
        images, vectors = item.all_images, item.all_vectors
        if images and vectors:
            raise InvalidInput(f"product {pid!r}: give images or vectors, not both")
        if not images and not vectors:
            raise InvalidInput(f"product {pid!r} has neither an image nor a vector")
        uris = list(item.image_uris) + [""] * (len(images) + len(vectors))
        for n, image in enumerate(images):
            uris[n] = image.uri or uris[n]
        if not uris[0]:
            uris[0] = product.image_uri
        count = len(images) + len(vectors)
        # Held to their size limits before any fetch.
        check_photos(pid, uris[:count], count)
        product = replace(product, image_uri=uris[0]).validated()
        if images:
            datas = await asyncio.gather(*(self._fetcher.load(image) for image in images))
            photos = [
                LoadedPhoto(uris[n], data=data, image_sha256=sha256_hex(data))
                for n, data in enumerate(datas)
            ]
        else:
            photos = [
                LoadedPhoto(uris[n], vector=v, vector_sha256=sha256_hex(v.tobytes()))
                for n, v in enumerate(self._checked_vectors(item, pid, vectors))
            ]
        return LoadedItem(index, item, product, _distinct(photos))

    def _checked_vectors(
        self, item: UpsertItem, pid: str, vectors: Sequence[Sequence[float]]
    ) -> list[np.ndarray]:
        if item.vector_model_id and item.vector_model_id != self.model_id:
            raise ModelMismatch(
                f"product {pid!r}: vector of model {item.vector_model_id!r}, the collection "
                f"holds model {self.model_id!r}"
            )
        checked = [
            checked_vector(v, self._embedder.dimension, f"vector of {pid!r}") for v in vectors
        ]
        if not item.vector_model_id:
            # Without it nothing shows the vector comes from this collection's model.
            raise InvalidVector(
                f"vector for product {pid!r} has no model_id; set it to the model that "
                f"computed the vector (the collection holds {self.model_id!r})"
            )
        return checked


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
        {pid: ids for pid, ids in writes.drops.items() if pid not in refused},
    )


def _distinct(photos: list[LoadedPhoto]) -> tuple[LoadedPhoto, ...]:
    """The photos without repeats of the same content (the first one kept)."""
    seen: set[str] = set()
    kept = []
    for photo in photos:
        key = photo.stored().key
        if key not in seen:
            seen.add(key)
            kept.append(photo)
    return tuple(kept)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
