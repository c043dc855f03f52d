"""Vectors of other models than the embedder's (imported for any model): each model's go to
that model's own collection, created when missing, keeping the catalog's attributes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from services.embedder.catalog.items import ItemResult, Outcome, UpsertItem, failed
from services.embedder.catalog.upsert_plan import kept_attributes
from vrs.catalog.products import Product, StoredProduct
from vrs.catalog.vectors import Vector, checked_vector
from vrs.images.source import sha256_hex
from vrs.modelinfo.dimensions import check_dimension
from vrs.store.async_store import AsyncStore
from vrs.store.model_stores import ModelStores


def other_models(items: Sequence[UpsertItem], own_model_id: str) -> dict[str, list[int]]:
    """Indexes of the vector items of other models than `own_model_id`, by model id."""
    others: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        model = item.vector_model_id
        if item.vector is not None and item.image is None and model and model != own_model_id:
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
            sizes = Counter(len(items[i].vector or ()) for i in indexes)
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
    vectors: dict[int, tuple[Product, Vector]] = {}
    for i in indexes:
        item = items[i]
        try:
            product = item.product.validated()
            vectors[i] = (
                product,
                checked_vector(item.vector or (), dimension, f"vector of {product.product_id!r}"),
            )
        except Exception as exc:
            results[i] = failed(item.product.product_id, exc)
    ids = [product.product_id for product, _ in vectors.values()]
    existing = await store.get(ids)
    # A product new to this collection takes the attributes the catalog already has.
    catalog = await catalog_store.get([pid for pid in ids if pid not in existing])
    writes: list[StoredProduct] = []
    rewrites: list[StoredProduct] = []
    for i, (incoming, vector) in vectors.items():
        pid = incoming.product_id
        prev = existing.get(pid) or catalog.get(pid)
        product = kept_attributes(incoming, prev.product) if prev else incoming
        stored = StoredProduct(
            product=product,
            model_id=model_id,
            vector_sha256=sha256_hex(vector.tobytes()),
            updated_at=now,
            versions=prev.versions if prev else {},
            vector=vector,
        )
        old = existing.get(pid)
        if old is not None and old.vector_sha256 == stored.vector_sha256:
            if old.product == product:
                results[i] = ItemResult(pid, Outcome.UNCHANGED)
                continue
            rewrites.append(replace(old, product=product, updated_at=now))
            results[i] = ItemResult(pid, Outcome.UPDATED)
            continue
        writes.append(stored)
        results[i] = ItemResult(pid, Outcome.UPSERTED)
    if writes:
        await store.upsert(writes)
    if rewrites:
        await store.set_attributes(rewrites)
    return results
