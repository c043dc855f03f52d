"""Deciding what an upsert does to each loaded item, before anything is embedded or written:
nothing, a payload rewrite, an embedding, or a write of the vector it came with."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from services.embedder.catalog.items import ItemResult, LoadedItem, Outcome, UpsertItem
from vrs.catalog.products import Product, StoredProduct, Versions
from vrs.catalog.vectors import Vector


@dataclass
class UpsertPlan:
    """What an upsert will do: items already settled (unchanged, or only their attributes
    changed), payload rewrites, images to embed, and vector writes ready to go."""

    settled: dict[int, ItemResult] = field(default_factory=dict)
    rewrites: list[StoredProduct] = field(default_factory=list)
    to_embed: list[LoadedItem] = field(default_factory=list)
    ready: list[StoredProduct] = field(default_factory=list)


def plan_upsert(
    loaded: list[LoadedItem], existing: dict[str, StoredProduct], model_id: str, now: str
) -> UpsertPlan:
    """The plan for `loaded`, given what the store holds (`existing`) for their products."""
    plan = UpsertPlan()
    for entry in loaded:
        prev = existing.get(entry.product_id)
        if prev is not None and entry.vector is not None:
            entry = replace(entry, product=kept_attributes(entry.product, prev.product))
        if prev is not None and _same_content(prev, entry, model_id):
            same = prev.product == entry.product
            versions = versions_to_store(entry.item, prev)
            if not same or versions != prev.versions:
                plan.rewrites.append(
                    replace(prev, product=entry.product, updated_at=now, versions=versions)
                )
            outcome = Outcome.UNCHANGED if same else Outcome.UPDATED
            plan.settled[entry.index] = ItemResult(entry.product_id, outcome)
        elif entry.data is not None:
            plan.to_embed.append(entry)
        else:
            plan.ready.append(stored_item(entry, entry.vector, model_id, now, prev))
    return plan


def stored_item(
    entry: LoadedItem, vector: Vector | None, model_id: str, now: str, prev: StoredProduct | None
) -> StoredProduct:
    """`entry` as the store will hold it, with `vector`."""
    return StoredProduct(
        product=entry.product,
        model_id=model_id,
        image_sha256=entry.image_sha256,
        vector_sha256=entry.vector_sha256,
        updated_at=now,
        versions=versions_to_store(entry.item, prev),
        vector=vector,
    )


def kept_attributes(incoming: Product, stored: Product) -> Product:
    """`incoming`, with the stored value of each attribute it leaves empty (a vector import
    names a product and its vector, not its title or price: it must not wipe them)."""
    return replace(
        incoming,
        title=incoming.title or stored.title,
        category=incoming.category or stored.category,
        brand=incoming.brand or stored.brand,
        price=stored.price if incoming.price is None else incoming.price,
        currency=incoming.currency or stored.currency,
        # Unset in_stock reads as True: only an explicit "out of stock" replaces the stored one.
        in_stock=incoming.in_stock and stored.in_stock,
        image_uri=incoming.image_uri or stored.image_uri,
    )


def versions_to_store(item: UpsertItem, prev: StoredProduct | None) -> Versions:
    if item.versions is not None:
        return item.versions
    return prev.versions if prev else {}


def _same_content(prev: StoredProduct, entry: LoadedItem, model_id: str) -> bool:
    if prev.model_id != model_id:
        return False
    if entry.image_sha256:
        return prev.image_sha256 == entry.image_sha256
    return bool(entry.vector_sha256) and prev.vector_sha256 == entry.vector_sha256
