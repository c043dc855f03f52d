"""Deciding what an upsert does to each loaded product, before anything is embedded or
written: nothing, an attribute rewrite, or a write of its photos (embedding only the photos
the store has not seen for it) and the removal of the photos it no longer lists."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from services.embedder.catalog.items import ItemResult, LoadedItem, LoadedPhoto, Outcome, UpsertItem
from vrs.catalog.ids import photo_point_id
from vrs.catalog.products import Product, StoredProduct, Versions
from vrs.catalog.vectors import Vector


@dataclass
class UpsertPlan:
    """What an upsert will do: items already settled (unchanged, or only their attributes
    changed), attribute rewrites, items with photos to embed, products ready to write, and
    the photos each written product drops."""

    settled: dict[int, ItemResult] = field(default_factory=dict)
    rewrites: list[StoredProduct] = field(default_factory=list)
    to_embed: list[LoadedItem] = field(default_factory=list)
    ready: list[StoredProduct] = field(default_factory=list)
    # Outcome of each item written, by item index (UPDATED: same photos, new URIs).
    outcomes: dict[int, Outcome] = field(default_factory=dict)
    # Product id -> point ids of the photos it no longer has (removed after the write).
    drops: dict[str, list[str]] = field(default_factory=dict)
    # Product id -> the vectors the store already holds for its photos, by photo key.
    kept: dict[str, dict[str, Vector]] = field(default_factory=dict)


def plan_upsert(
    loaded: list[LoadedItem], existing: Mapping[str, StoredProduct], model_id: str, now: str
) -> UpsertPlan:
    """The plan for `loaded`, given what the store holds (`existing`, with the vectors of
    products whose photos change: see photos_to_keep) for their products."""
    plan = UpsertPlan()
    for entry in loaded:
        prev = existing.get(entry.product_id)
        if prev is not None and entry.photos[0].vector is not None:
            entry = replace(entry, product=kept_attributes(entry.product, prev.product))
        if prev is not None and _same_photos(prev, entry, model_id):
            same = prev.product == entry.product
            versions = versions_to_store(entry.item, prev)
            if not same or versions != prev.versions:
                plan.rewrites.append(
                    replace(prev, product=entry.product, updated_at=now, versions=versions)
                )
            outcome = Outcome.UNCHANGED if same else Outcome.UPDATED
            plan.settled[entry.index] = ItemResult(entry.product_id, outcome)
            continue
        same_keys = prev is not None and prev.photo_keys == entry.photo_keys
        plan.outcomes[entry.index] = Outcome.UPDATED if same_keys else Outcome.UPSERTED
        kept = _kept_vectors(prev, model_id)
        plan.kept[entry.product_id] = kept
        if prev is not None:
            ids = {photo_point_id(entry.product_id, key) for key in entry.photo_keys}
            dropped = [p.point_id for p in prev.photos if p.point_id and p.point_id not in ids]
            if dropped:
                plan.drops[entry.product_id] = dropped
        if any(_needs_model(photo, kept) for photo in entry.photos):
            plan.to_embed.append(entry)
        else:
            plan.ready.append(stored_item(entry, [], kept, model_id, now, prev))
    return plan


def photos_to_keep(
    loaded: Sequence[LoadedItem], existing: Mapping[str, StoredProduct], model_id: str
) -> list[str]:
    """Products whose photos change but keep some: their stored vectors spare the model."""
    wanted = []
    for entry in loaded:
        prev = existing.get(entry.product_id)
        if prev is None or prev.model_id != model_id or _same_photos(prev, entry, model_id):
            continue
        if set(prev.photo_keys) & set(entry.photo_keys):
            wanted.append(entry.product_id)
    return wanted


def needs_model(entry: LoadedItem, plan: UpsertPlan) -> list[LoadedPhoto]:
    """The photos of `entry` the model must embed (new to the product)."""
    kept = plan.kept.get(entry.product_id, {})
    return [photo for photo in entry.photos if _needs_model(photo, kept)]


def stored_item(
    entry: LoadedItem,
    embedded: Sequence[Vector],
    kept: Mapping[str, Vector],
    model_id: str,
    now: str,
    prev: StoredProduct | None,
) -> StoredProduct:
    """`entry` as the store will hold it: each photo with its vector (given with it, kept
    from the store, or `embedded`, in the order of the photos that needed the model)."""
    fresh = iter(embedded)
    photos = []
    for photo in entry.photos:
        vector = photo.vector if photo.vector is not None else kept.get(photo.stored().key)
        photos.append(photo.stored(vector if vector is not None else next(fresh)))
    first = photos[0]
    if not first.image_uri and entry.product.image_uri:
        photos[0] = replace(first, image_uri=entry.product.image_uri)
    return StoredProduct(
        product=replace(entry.product, image_uri=photos[0].image_uri),
        model_id=model_id,
        updated_at=now,
        versions=versions_to_store(entry.item, prev),
        photos=tuple(photos),
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
        group_id=incoming.group_id or stored.group_id,
    )


def versions_to_store(item: UpsertItem, prev: StoredProduct | None) -> Versions:
    if item.versions is not None:
        return item.versions
    return prev.versions if prev else {}


def _same_photos(prev: StoredProduct, entry: LoadedItem, model_id: str) -> bool:
    """The same photos, in the same order, from the same places, by the same model."""
    if prev.model_id != model_id or prev.photo_keys != entry.photo_keys:
        return False
    uris = [p.image_uri for p in entry.photos]
    if not uris[0]:
        uris[0] = entry.product.image_uri
    return [p.image_uri for p in prev.photos] == uris


def _kept_vectors(prev: StoredProduct | None, model_id: str) -> dict[str, Vector]:
    if prev is None or prev.model_id != model_id:
        return {}
    return {p.key: p.vector for p in prev.photos if p.vector is not None}


def _needs_model(photo: LoadedPhoto, kept: Mapping[str, Vector]) -> bool:
    return photo.vector is None and photo.stored().key not in kept
