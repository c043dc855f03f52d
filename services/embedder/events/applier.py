"""Applying catalog changes so that the store ends as if every event were applied once, in
stream order, whatever order consumers actually see them in.

Consumers of one group can hold events of the same product at the same time, and a dead
consumer's events come back late. So instead of trusting arrival order, each product keeps
the stream position (version) that last set each attribute and its image:

- an upsert sets every attribute and the image, except attributes a newer update already set;
- an update sets the attributes it names that are older than it (and older than the upsert);
- a delete removes the product if its upsert is older, and leaves a tombstone; attribute values
  newer than the delete survive as orphans, as do updates arriving for an absent product, so a
  late upsert that sits between them in the stream still gets them.

Per product this is last-writer-wins by stream position, which is what in-order application
gives. Everything runs under a per-product Redis lock, so read-decide-write never interleaves;
a product whose lock was lost meanwhile is not written (its event is retried).

Events fail alone: whatever one event raises becomes that event's outcome, and the others of
its batch still apply. Only an outage (Redis, or the store) stops the batch, with nothing
acknowledged.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from services.embedder.catalog.items import UpsertItem
from services.embedder.catalog.writer import CatalogWriter
from services.embedder.events.locks import HeldLocks, ProductLocks
from vrs.catalog.products import PATCHABLE, Product, ProductPatch, StoredProduct, Versions
from vrs.errors import NotFound, Overloaded, Unavailable, VrsError
from vrs.events.schema import Change, Update, Upsert
from vrs.store.async_store import AsyncStore

log = logging.getLogger(__name__)

UPSERT = "upsert"
ATTRIBUTES = (*PATCHABLE, "image_uri")
Orphans = dict[str, tuple[int, Any]]  # attribute -> (version, value)


class Applied(Enum):
    """What applying one catalog event did."""

    APPLIED = "applied"
    # Everything it would set was already set by newer events (or by itself, redelivered).
    SUPERSEDED = "superseded"


# Per entry: how it was done (acknowledge it), or the error that stopped it (retry it).
EntryOutcome = Applied | Exception
# Unavailable dependencies that are outages of the whole consumer, not of one event (an image
# host that does not answer is one event's problem).
OUTAGE_DEPENDENCIES = frozenset({"Qdrant"})


def is_outage(error: BaseException) -> bool:
    """Redis or the store is down, or the model is overloaded: retry the batch later, count
    no event's attempt."""
    if isinstance(error, Overloaded):
        return True
    if isinstance(error, Unavailable):
        return error.dependency in OUTAGE_DEPENDENCIES
    return isinstance(error, RedisError)


@dataclass(frozen=True)
class PendingChange:
    """A change waiting for an older event of its product (an orphan)."""

    entry_id: str
    version: int
    change: Change

    @property
    def product_id(self) -> str:
        change = self.change
        if isinstance(change, Upsert):
            return change.product.product_id
        if isinstance(change, Update):
            return change.patch.product_id
        return change.product_id


@dataclass
class _Product:
    """What the applier knows of one product while deciding one change."""

    stored: StoredProduct | None
    tombstone: int
    orphans: Orphans

    @property
    def upsert_version(self) -> int:
        return self.stored.versions.get(UPSERT, 0) if self.stored else 0


class ChangeApplier:
    """Applies catalog events to the store in stream order per product, under per-product locks."""

    def __init__(
        self,
        writer: CatalogWriter,
        store: AsyncStore,
        client: aioredis.Redis,
        key_prefix: str,
        tombstone_ttl_s: int,
        lock_ttl_ms: int,
        lock_wait_ms: int = 10_000,
    ) -> None:
        self._writer = writer
        self._store = store
        self._client = client
        self._prefix = key_prefix
        self._ttl_s = tombstone_ttl_s
        self.locks = ProductLocks(client, key_prefix, lock_ttl_ms, lock_wait_ms)

    async def apply(self, changes: Sequence[PendingChange]) -> dict[str, EntryOutcome]:
        """entry id -> Applied (acknowledge it) or the error that stopped it (retry it), for
        every change; raises only on an outage (is_outage)."""
        by_product: dict[str, list[PendingChange]] = defaultdict(list)
        for change in sorted(changes, key=lambda c: c.version):
            by_product[change.product_id].append(change)
        outcomes: dict[str, EntryOutcome] = {}
        # Round r holds the r-th change of every product: one change per product per round,
        # and each round's upserts share forward passes.
        depth = max((len(v) for v in by_product.values()), default=0)
        for r in range(depth):
            batch = [pending[r] for pending in by_product.values() if len(pending) > r]
            async with self.locks.hold([c.product_id for c in batch]) as held:
                for change in batch:
                    if change.product_id in held.refused:
                        outcomes[change.entry_id] = held.refused[change.product_id]
                mine = [c for c in batch if c.product_id not in held.refused]
                outcomes.update(await self._apply_isolated(mine, held))
        return outcomes

    async def _apply_isolated(
        self, batch: list[PendingChange], held: HeldLocks
    ) -> dict[str, EntryOutcome]:
        """The round; when it fails other than by an outage, each change again on its own, so
        the one that fails takes the error and the others apply."""
        if not batch:
            return {}
        try:
            return await self._apply_round(batch, held)
        except Exception as exc:
            if is_outage(exc):
                raise
            if len(batch) == 1:
                _log_unexpected(exc, batch)
                return {batch[0].entry_id: exc}
            log.warning(
                "catalog events: a round failed; applying its events one by one",
                extra={"events": len(batch), "error": type(exc).__name__},
            )
        outcomes: dict[str, EntryOutcome] = {}
        for change in batch:
            try:
                outcomes.update(await self._apply_round([change], held))
            except Exception as exc:
                if is_outage(exc):
                    raise
                _log_unexpected(exc, [change])
                outcomes[change.entry_id] = exc
        return outcomes

    async def _apply_round(
        self, batch: list[PendingChange], held: HeldLocks
    ) -> dict[str, EntryOutcome]:
        known = await self._load([c.product_id for c in batch])
        # Read under the lock: the writer decides on these, without reading them again.
        stored = {pid: p.stored for pid, p in known.items() if p.stored is not None}
        outcomes: dict[str, EntryOutcome] = {}
        upserts: list[tuple[PendingChange, UpsertItem]] = []
        for change in batch:
            c = change.change
            if isinstance(c, Upsert):
                item = self._upsert(change.version, c, known[change.product_id])
                if item is None:
                    outcomes[change.entry_id] = Applied.SUPERSEDED
                else:
                    upserts.append((change, item))
        # Upserts first: fetching and embedding is what fails most, and it writes nothing to
        # Redis before the store, so a round that fails there can be redone event by event.
        if upserts:
            results = await self._writer.upsert(
                [item for _, item in upserts], stored, gate=held.confirm
            )
            for (change, _), result in zip(upserts, results, strict=True):
                outcomes[change.entry_id] = result.error or Applied.APPLIED
                if result.error is None:
                    await self._client.delete(self._key("orphans", change.product_id))
        rest = [c for c in batch if not isinstance(c.change, Upsert)]
        # Tombstones, orphans and attribute writes follow at once: confirmed locks have their
        # whole TTL ahead of them.
        lost = await held.confirm([c.product_id for c in rest]) if rest else {}
        for change in rest:
            if change.product_id in lost:
                outcomes[change.entry_id] = lost[change.product_id]
        outcomes.update(
            await self._apply_rest([c for c in rest if c.product_id not in lost], known, stored)
        )
        return outcomes

    async def _apply_rest(
        self,
        batch: list[PendingChange],
        known: dict[str, _Product],
        stored: dict[str, StoredProduct],
    ) -> dict[str, EntryOutcome]:
        """Updates and deletes of one round."""
        outcomes: dict[str, EntryOutcome] = {}
        patches: list[tuple[PendingChange, ProductPatch]] = []
        deletes: list[str] = []
        for change in batch:
            product = known[change.product_id]
            c = change.change
            if isinstance(c, Upsert):
                continue
            if isinstance(c, Update):
                patch = await self._update(change.version, c.patch, product)
                if patch is None:
                    outcomes[change.entry_id] = Applied.SUPERSEDED
                elif patch.versions:
                    patches.append((change, patch))
                else:
                    outcomes[change.entry_id] = Applied.APPLIED  # kept as orphan values
            else:
                if await self._delete(change.version, change.product_id, product):
                    deletes.append(change.product_id)
                # A delete is news when nothing as new was deleted before (else a redelivery).
                news = change.version > product.tombstone
                outcomes[change.entry_id] = Applied.APPLIED if news else Applied.SUPERSEDED
        if patches:
            results = await self._writer.update([patch for _, patch in patches], stored)
            for (change, _), result in zip(patches, results, strict=True):
                # A product deleted meanwhile has nothing to update: done.
                error = None if isinstance(result.error, NotFound) else result.error
                outcomes[change.entry_id] = error or Applied.APPLIED
        if deletes:
            await self._writer.delete(deletes, stored)
        return outcomes

    def _upsert(self, version: int, change: Upsert, product: _Product) -> UpsertItem | None:
        if version <= product.tombstone or version <= product.upsert_version:
            return None
        values = asdict(change.product)
        versions: Versions = {name: version for name in ATTRIBUTES}
        versions[UPSERT] = version
        newer = dict(product.orphans)
        if product.stored is not None:
            for name in ATTRIBUTES:
                stored_version = product.stored.versions.get(name, 0)
                if stored_version > version:
                    newer[name] = (stored_version, getattr(product.stored.product, name))
        for name, (v, value) in newer.items():
            if v > version and v >= versions.get(name, 0):
                values[name], versions[name] = value, v
        return UpsertItem(
            Product(**values),
            images=change.images,
            versions=versions,
            image_uris=change.image_uris,
        )

    async def _update(
        self, version: int, patch: ProductPatch, product: _Product
    ) -> ProductPatch | None:
        """The part of the patch that is newer than what the product holds (None: nothing)."""
        if product.stored is None:
            if version <= product.tombstone:
                return None
            # No product (yet): keep the values for an upsert that may arrive late.
            orphans = dict(product.orphans)
            for name, value in patch.changes().items():
                if version > orphans.get(name, (0, None))[0]:
                    orphans[name] = (version, value)
            if orphans == product.orphans:
                return None
            await self._save_orphans(patch.product_id, orphans)
            return ProductPatch(patch.product_id)
        if version <= product.upsert_version:
            return None
        fresh = {
            name: value
            for name, value in patch.changes().items()
            if product.stored.versions.get(name, 0) < version
        }
        if not fresh:
            return None
        return ProductPatch(patch.product_id, **fresh, versions=dict.fromkeys(fresh, version))

    async def _delete(self, version: int, product_id: str, product: _Product) -> bool:
        """Records the tombstone; True when the stored product must go."""
        await self._client.set(
            self._key("tombstone", product_id), max(version, product.tombstone), ex=self._ttl_s
        )
        survivors = {n: (v, value) for n, (v, value) in product.orphans.items() if v > version}
        stored = product.stored
        gone = stored is not None and version > product.upsert_version
        if stored is not None and gone:
            # Attribute values set after the delete outlive the product as orphans.
            for name, v in stored.versions.items():
                if name in ATTRIBUTES and v > version and v > survivors.get(name, (0, None))[0]:
                    survivors[name] = (v, getattr(stored.product, name))
        if stored is None or gone:
            await self._save_orphans(product_id, survivors)
        return gone

    async def _load(self, product_ids: list[str]) -> dict[str, _Product]:
        stored = await self._store.get(product_ids)
        tombstones = await self._client.mget([self._key("tombstone", p) for p in product_ids])
        orphans = await self._client.mget([self._key("orphans", p) for p in product_ids])
        return {
            pid: _Product(stored.get(pid), int(tomb or 0), _decode_orphans(raw))
            for pid, tomb, raw in zip(product_ids, tombstones, orphans, strict=True)
        }

    async def _save_orphans(self, product_id: str, orphans: Orphans) -> None:
        key = self._key("orphans", product_id)
        if orphans:
            await self._client.set(
                key,
                json.dumps({k: [str(v), val] for k, (v, val) in orphans.items()}),
                ex=self._ttl_s,
            )
        else:
            await self._client.delete(key)

    def _key(self, kind: str, product_id: str) -> str:
        return f"{self._prefix}:event-{kind}:{product_id}"


def _log_unexpected(error: Exception, changes: list[PendingChange]) -> None:
    # Domain errors name their problem in the event's retry log; anything else is a bug worth
    # its traceback.
    if not isinstance(error, VrsError):
        log.error(
            "catalog events: unexpected error applying an event",
            extra={"entry_id": changes[0].entry_id, "product_id": changes[0].product_id},
            exc_info=error,
        )


def _decode_orphans(raw: bytes | str | None) -> Orphans:
    if not raw:
        return {}
    return {k: (int(v), value) for k, (v, value) in json.loads(raw).items()}
