"""Vectors of other models than the embedder's (imported for any model): each model's go to
that model's own collection, created when missing, keeping the catalog's attributes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from services.embedder.catalog.items import (
    ItemResult,
    LoadedItem,
    LoadedPhoto,
    Outcome,
    UpsertItem,
    failed,
)
from services.embedder.catalog.upsert_plan import kept_attributes, plan_upsert
from vrs.catalog.products import check_photos
from vrs.catalog.vectors import checked_vector
from vrs.images.source import sha256_hex
from vrs.modelinfo.dimensions import check_dimension
from vrs.store.async_store import AsyncStore
from vrs.store.model_stores import ModelStores


def other_models(items: Sequence[UpsertItem], own_model_id: str) -> dict[str, list[int]]:
    """Indexes of the vector items of other models than `own_model_id`, by model id."""
    others: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        model = item.vector_model_id
        if item.all_vectors and not item.all_images and model and model != own_model_id:
            others.setdefault(model, []).append(i)
    return others


async def upsert_other_models(
    stores: ModelStores,
    catalog: AsyncStore,
    items: Sequence[UpsertItem],
    others: dict[str, list[int]],
    now: str,
) -> dict[int, ItemResult]:
    """Each model's items written to its collection; `catalog` (the served collection) lends
    its attributes to products new to another model's collection."""
    results: dict[int, ItemResult] = {}
    for model_id, indexes in others.items():
        try:
            # A new collection takes the batch's usual size: one odd vector fails alone.
            sizes = Counter(len(v) for i in indexes for v in items[i].all_vectors)
            dimension = sizes.most_common(1)[0][0]
            check_dimension(model_id, dimension, f"vector of model {model_id!r}")
            store = await stores.for_writing(model_id, dimension)
            results.update(await _upsert_model(store, catalog, model_id, items, indexes, now))
        except Exception as exc:
            # The collection could not be opened or written: that model's items fail, alone.
            for i in indexes:
                results[i] = failed(items[i].product.product_id, exc)
    return results


async def _upsert_model(
    store: AsyncStore,
    catalog_store: AsyncStore,
    model_id: str,
    items: Sequence[UpsertItem],
    indexes: list[int],
    now: str,
) -> dict[int, ItemResult]:
    dimension = await store.dimension()
    results: dict[int, ItemResult] = {}
    loaded: list[LoadedItem] = []
    for i in indexes:
        item = items[i]
        try:
            loaded.append(_loaded(i, item, dimension))
        except Exception as exc:
            results[i] = failed(item.product.product_id, exc)
    ids = [entry.product_id for entry in loaded]
    existing = await store.get(ids)
    # A product new to this collection takes the attributes the catalog already has.
    catalog = await catalog_store.get([pid for pid in ids if pid not in existing])
    loaded = [
        replace(e, product=kept_attributes(e.product, catalog[e.product_id].product))
        if e.product_id in catalog
        else e
        for e in loaded
    ]
    plan = plan_upsert(loaded, existing, model_id, now)
    results.update(plan.settled)
    if plan.ready:
        await store.upsert(plan.ready)
    dropped = [point for points in plan.drops.values() for point in points]
    if dropped:
        await store.delete_points(dropped)
    if plan.rewrites:
        await store.set_attributes(plan.rewrites)
    for entry in loaded:
        if entry.index not in results:
            outcome = plan.outcomes.get(entry.index, Outcome.UPSERTED)
            results[entry.index] = ItemResult(entry.product_id, outcome)
    return results


def _loaded(index: int, item: UpsertItem, dimension: int) -> LoadedItem:
    """The item's vectors checked, as photos (distinct ones, in order)."""
    product = item.product.validated()
    pid = product.product_id
    vectors = item.all_vectors
    uris = [*item.image_uris, *[""] * len(vectors)][: len(vectors)]
    uris[0] = uris[0] or product.image_uri
    check_photos(pid, uris, len(vectors))
    photos: dict[str, LoadedPhoto] = {}
    for n, raw in enumerate(vectors):
        vector = checked_vector(raw, dimension, f"vector of {pid!r}")
        sha = sha256_hex(vector.tobytes())
        photos.setdefault(sha, LoadedPhoto(uris[n], vector=vector, vector_sha256=sha))
    return LoadedItem(index, item, replace(product, image_uri=uris[0]), tuple(photos.values()))
