"""Keeping the store in step with the catalog: upserts, attribute updates, deletes.

The model runs only for images the store has not seen for this product; every change bumps
the catalog generation so no cached search result outlives it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import Enum

from services.embedder.embedding.embedder import ImageEmbedder
from vrs.catalog.products import Product, ProductPatch, StoredProduct, Versions
from vrs.catalog.vectors import Vector, checked_vector
from vrs.errors import InvalidInput, InvalidVector, ModelMismatch, NotFound, VrsError
from vrs.images.source import ImageFetcher, ImageInput, sha256_hex
from vrs.item_failure import as_item_error
from vrs.modelinfo.dimensions import check_dimension
from vrs.redis_access.generation import CatalogGeneration
from vrs.store.async_store import AsyncStore
from vrs.store.model_stores import ModelStores

log = logging.getLogger(__name__)


# Stored products by id, as a caller read them; ids absent from it are not in the store.
Known = Mapping[str, StoredProduct]
# Given the products about to be written, those that must not be, with why (the events
# applier: products whose lock was lost while their images were fetched and embedded).
WriteGate = Callable[[Sequence[str]], Awaitable[Mapping[str, VrsError]]]


class Outcome(Enum):
    UPSERTED = "upserted"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    FAILED = "failed"


@dataclass(frozen=True)
class UpsertItem:
    product: Product
    image: ImageInput | None = None
    vector: Sequence[float] | None = None
    vector_model_id: str = ""
    # Event versions to store with the product (None: keep the stored ones). Ordering is the
    # events applier's business; the writer only records them.
    versions: Versions | None = None


@dataclass(frozen=True)
class ItemResult:
    product_id: str
    outcome: Outcome
    error: VrsError | None = None


@dataclass(frozen=True)
class _Loaded:
    index: int
    item: UpsertItem
    product: Product
    data: bytes | None = None
    vector: Vector | None = None
    image_sha256: str = ""
    vector_sha256: str = ""


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
        """`known`: the stored products, when the caller has just read them (else read here).
        `gate`: asked right before the store write which products must not be written.

        A vector of another model goes to that model's collection (created when missing);
        a vector upsert keeps the stored attributes its item leaves empty."""
        results: dict[int, ItemResult] = {}
        loaded: list[_Loaded] = []
        others = self._other_models(items) if gate is None else {}
        if others and self._stores is not None:
            results.update(await self._upsert_other_models(self._stores, items, others))
        attempts = await asyncio.gather(
            *(self._load(i, item) for i, item in enumerate(items) if i not in results),
            return_exceptions=True,
        )
        indexes = [i for i in range(len(items)) if i not in results]
        for i, attempt in zip(indexes, attempts, strict=True):
            if isinstance(attempt, _Loaded):
                loaded.append(attempt)
            else:
                results[i] = _failed(items[i].product.product_id, attempt)
        existing = await self._stored_products(
            [entry.product.product_id for entry in loaded], known
        )
        now = _now()
        to_embed: list[_Loaded] = []
        writes: list[StoredProduct] = []
        rewrites: list[StoredProduct] = []
        for entry in loaded:
            prev = existing.get(entry.product.product_id)
            if prev is not None and entry.vector is not None:
                entry = replace(entry, product=kept_attributes(entry.product, prev.product))
            if prev is not None and _same_content(prev, entry, self.model_id):
                same = prev.product == entry.product
                versions = _versions(entry.item, prev)
                if not same or versions != prev.versions:
                    rewrites.append(
                        replace(prev, product=entry.product, updated_at=now, versions=versions)
                    )
                outcome = Outcome.UNCHANGED if same else Outcome.UPDATED
                results[entry.index] = ItemResult(entry.product.product_id, outcome)
            elif entry.data is not None:
                to_embed.append(entry)
            else:
                writes.append(self._stored(entry, entry.vector, now, prev))
        vectors = await self._embedder.embed_many([e.data for e in to_embed if e.data is not None])
        for entry, vector in zip(to_embed, vectors, strict=True):
            if isinstance(vector, BaseException):
                results[entry.index] = _failed(entry.product.product_id, vector)
            else:
                prev = existing.get(entry.product.product_id)
                writes.append(self._stored(entry, vector, now, prev))
        if gate is not None:
            writes, rewrites = await _through_gate(gate, loaded, results, writes, rewrites)
        if writes:
            await self._store.upsert(writes)
        if rewrites:
            await self._store.set_attributes(rewrites)
        written = {w.product.product_id for w in writes}
        for entry in loaded:
            if entry.index not in results and entry.product.product_id in written:
                results[entry.index] = ItemResult(entry.product.product_id, Outcome.UPSERTED)
        if writes or any(r.outcome in _CHANGES for r in results.values()):
            await self._changed()
        return [results[i] for i in range(len(items))]

    def _other_models(self, items: Sequence[UpsertItem]) -> dict[str, list[int]]:
        """Indexes of the vector items of other models than this embedder's, by model id."""
        if self._stores is None:
            return {}
        others: dict[str, list[int]] = {}
        for i, item in enumerate(items):
            model = item.vector_model_id
            if item.vector is not None and item.image is None and model and model != self.model_id:
                others.setdefault(model, []).append(i)
        return others

    async def _upsert_other_models(
        self, stores: ModelStores, items: Sequence[UpsertItem], others: dict[str, list[int]]
    ) -> dict[int, ItemResult]:
        results: dict[int, ItemResult] = {}
        for model_id, indexes in others.items():
            try:
                # A new collection takes the batch's usual size: one odd vector fails alone.
                sizes = Counter(len(items[i].vector or ()) for i in indexes)
                dimension = sizes.most_common(1)[0][0]
                check_dimension(model_id, dimension, f"vector of model {model_id!r}")
                store = await stores.for_writing(model_id, dimension)
                results.update(await self._upsert_model(store, model_id, items, indexes))
            except Exception as exc:
                # The collection could not be opened or written: that model's items fail, alone.
                for i in indexes:
                    results[i] = _failed(items[i].product.product_id, exc)
        return results

    async def _upsert_model(
        self, store: AsyncStore, model_id: str, items: Sequence[UpsertItem], indexes: list[int]
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
                    checked_vector(
                        item.vector or (), dimension, f"vector of {product.product_id!r}"
                    ),
                )
            except Exception as exc:
                results[i] = _failed(item.product.product_id, exc)
        ids = [product.product_id for product, _ in vectors.values()]
        existing = await store.get(ids)
        # A product new to this collection takes the attributes the catalog already has.
        catalog = await self._store.get([pid for pid in ids if pid not in existing])
        now = _now()
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
                results.append(_failed(patch.product_id, exc))
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

    async def _load(self, index: int, item: UpsertItem) -> _Loaded:
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
            return _Loaded(index, item, product, data=data, image_sha256=sha256_hex(data))
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
            return _Loaded(
                index, item, product, vector=vector, vector_sha256=sha256_hex(vector.tobytes())
            )
        raise InvalidInput(f"product {product.product_id!r} has neither an image nor a vector")

    def _stored(
        self, entry: _Loaded, vector: Vector | None, now: str, prev: StoredProduct | None
    ) -> StoredProduct:
        return StoredProduct(
            product=entry.product,
            model_id=self.model_id,
            image_sha256=entry.image_sha256,
            vector_sha256=entry.vector_sha256,
            updated_at=now,
            versions=_versions(entry.item, prev),
            vector=vector,
        )


_CHANGES = (Outcome.UPDATED, Outcome.UPSERTED)


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


def _versions(item: UpsertItem, prev: StoredProduct | None) -> Versions:
    if item.versions is not None:
        return item.versions
    return prev.versions if prev else {}


def _same_content(prev: StoredProduct, entry: _Loaded, model_id: str) -> bool:
    if prev.model_id != model_id:
        return False
    if entry.image_sha256:
        return prev.image_sha256 == entry.image_sha256
    return bool(entry.vector_sha256) and prev.vector_sha256 == entry.vector_sha256


async def _through_gate(
    gate: WriteGate,
    loaded: list[_Loaded],
    results: dict[int, ItemResult],
    writes: list[StoredProduct],
    rewrites: list[StoredProduct],
) -> tuple[list[StoredProduct], list[StoredProduct]]:
    """The writes the gate lets through; the items it stops fail with its error."""
    refused = await gate([s.product.product_id for s in (*writes, *rewrites)])
    if not refused:
        return writes, rewrites
    for entry in loaded:
        error = refused.get(entry.product.product_id)
        if error is not None:
            results[entry.index] = ItemResult(entry.product.product_id, Outcome.FAILED, error)
    return (
        [s for s in writes if s.product.product_id not in refused],
        [s for s in rewrites if s.product.product_id not in refused],
    )


def _failed(product_id: str, error: BaseException) -> ItemResult:
    # A bug in one item (logged, INTERNAL) fails that item alone, not its whole batch.
    return ItemResult(product_id, Outcome.FAILED, as_item_error(error, f"product {product_id!r}"))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
