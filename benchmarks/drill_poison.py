"""Phase poison-burst: ~300 catalog events (upserts with inline photos, price updates, deletes,
producer-side duplicates, and a dozen poison events: malformed JSON, wrong schema or version,
unknown fields, photos that are not images, bad values) published to the stream of a `vrs serve`
consuming it, killed (kill -9) mid-way and started again (same group, same store). Expected once
the group's backlog is 0: the store equals applying the valid events once, in stream order
(computed while publishing), and the dead-letter stream holds the poison events and only them.
"""

from __future__ import annotations

import base64
import json
import random
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import grpc
import redis

from benchmarks.drill_catalog import CALL_TIMEOUT_S, DrillContext, photo, stored
from benchmarks.drill_events import DEAD, STREAM, backlog, events_env, settled, wait_until
from benchmarks.drill_procs import VrsProcess, redis_server
from benchmarks.drill_report import PhaseResult
from vrs.catalog.products import Product, ProductPatch
from vrs.catalog.sample import CATEGORIES
from vrs.events.publish import delete_event, publish, update_event, upsert_event
from vrs.events.schema import SCHEMA
from vrs.images.source import ImageInput, sha256_hex
from vrs.settings import StoreSettings
from vrs.store.qdrant_edge_store import QdrantEdgeStore
from vrs.v1 import embedder_pb2, embedder_pb2_grpc, events_pb2

NAME = "poison-burst"
FAULT = "Poison-event burst, consumer kill -9 mid-way"
EVENTS = 300
PRODUCTS = [f"pb-{i:02d}" for i in range(25)]
VARIANTS = 3
KILL_AFTER = EVENTS // 3  # events acknowledged before the kill
DRAIN_LIMIT_S = 120.0
# Short timings, so the dead consumer's entries are claimed, its locks freed and the poison
# dead-lettered within the drill.
EVENTS_SETTINGS = {
    "VRS_EVENTS_CLAIM_IDLE_MS": "2000",
    "VRS_EVENTS_MAX_ATTEMPTS": "3",
    "VRS_EVENTS_RETRY_BACKOFF_MS": "100",
    "VRS_EVENTS_LOCK_TTL_MS": "3000",
    "VRS_EVENTS_LOCK_WAIT_MS": "1000",
}
# Ids only poison events name: none may end up in the store.
POISON_IDS = ["x", "pb-neg", "pb-corrupt", "pb-trunc", "pb-noimg", "pb-file"]

State = dict[str, dict[str, Any]]


def _event(body: dict[str, Any]) -> dict[Any, Any]:
    return {"schema": SCHEMA, "v": "1", "event": json.dumps(body)}


def poison_entries(jpeg: bytes) -> list[dict[Any, Any]]:
    """Stream entries no consumer can apply, whatever it retries (jpeg: a valid photo)."""
    data = base64.b64encode(jpeg).decode()
    return [
        {"schema": SCHEMA, "v": "1", "event": "{not json"},
        {"schema": SCHEMA, "v": "1", "event": b"\xff\xfe not utf-8"},
        {"schema": "other.Thing", "v": "1", "event": "{}"},
        {"schema": SCHEMA, "v": "2", "event": json.dumps({"kind": "DELETE", "product_id": "x"})},
        _event({"kind": "EXPLODE", "product_id": "x"}),
        _event({"kind": "UPSERT", "product_id": ""}),
        _event({"kind": "UPSERT", "product_id": "x", "surprise": 1, "image": {"data": data}}),
        _event(
            {
                "kind": "UPSERT",
                "product_id": "pb-neg",
                "product": {"price": -3},
                "image": {"data": data},
            }
        ),
        _event(
            {
                "kind": "UPSERT",
                "product_id": "pb-corrupt",
                "image": {"data": base64.b64encode(b"not an image").decode()},
            }
        ),
        _event(
            {
                "kind": "UPSERT",
                "product_id": "pb-trunc",
                "image": {"data": base64.b64encode(jpeg[:300]).decode()},
            }
        ),
        _event({"kind": "UPSERT", "product_id": "pb-noimg", "product": {"title": "no photo"}}),
        _event(
            {"kind": "UPSERT", "product_id": "pb-file", "image": {"uri": "file:///etc/hostname"}}
        ),
        _event({"kind": "UPDATE", "product_id": PRODUCTS[1], "patch": {"price": "NaN"}}),
    ]


def apply(state: State, event: events_pb2.CatalogEvent) -> None:
    """What one valid event does to the catalog (its photos inline), as the consumer must."""
    pid = event.product_id
    if event.kind == events_pb2.CatalogEvent.UPSERT:
        state[pid] = {
            "title": event.product.title,
            "category": event.product.category,
            "price": event.product.price,
            "in_stock": event.product.in_stock,
            "sha": sha256_hex(event.image.data),
        }
    elif event.kind == events_pb2.CatalogEvent.UPDATE and pid in state:
        state[pid]["price"] = event.patch.price
        state[pid]["in_stock"] = event.patch.in_stock
    elif event.kind == events_pb2.CatalogEvent.DELETE:
        state.pop(pid, None)


@dataclass
class Burst:
    """What was published: the state the valid events make, and the poison entries' ids."""

    expected: State = field(default_factory=dict)
    poison_ids: list[str] = field(default_factory=list)
    published: int = 0


Entry = events_pb2.CatalogEvent | dict[Any, Any]


def plan(count: int, seed: int = 3) -> tuple[list[Entry], State]:
    """The burst in stream order (valid events, duplicates included, and the poison entries),
    and the state applying its valid events once in that order makes."""
    rng = random.Random(seed)
    photos = {
        (pid, v): photo(CATEGORIES[i % len(CATEGORIES)], 5000 + 10 * i + v)
        for i, pid in enumerate(PRODUCTS)
        for v in range(VARIANTS)
    }
    poison = poison_entries(photos[PRODUCTS[0], 0])
    poison_at = set(rng.sample(range(10, count), len(poison)))
    state: State = {}
    history: list[events_pb2.CatalogEvent] = []
    entries: list[Entry] = []
    for position in range(count):
        if position in poison_at:
            entries.append(poison.pop())
            continue
        roll, pid = rng.random(), rng.choice(PRODUCTS)
        event: events_pb2.CatalogEvent
        if roll < 0.1 and history:
            event = rng.choice(history)  # the producer sends an old event again
        elif roll < 0.55 or pid not in state:
            variant = rng.randrange(VARIANTS)
            product = Product(
                pid,
                title=f"{pid} v{variant}",
                category=CATEGORIES[PRODUCTS.index(pid) % len(CATEGORIES)],
                brand="Drill",
                price=round(rng.uniform(5, 100), 2),
                in_stock=rng.random() > 0.2,
            )
            event = upsert_event(product, ImageInput(data=photos[pid, variant]))
        elif roll < 0.85:
            price = round(rng.uniform(5, 100), 2)
            event = update_event(ProductPatch(pid, price=price, in_stock=rng.random() > 0.5))
        else:
            event = delete_event(pid)
        history.append(event)
        entries.append(event)
        apply(state, event)
    return entries, state


def publish_burst(client: redis.Redis, entries: list[Entry], expected: State) -> Burst:
    """Publishes the entries in order (the valid ones through vrs.events.publish)."""
    burst = Burst(expected)
    for entry in entries:
        if isinstance(entry, dict):
            burst.poison_ids.append(_text(client.xadd(STREAM, entry)))
        else:
            publish(client, STREAM, entry)
        burst.published += 1
    return burst


def compare(expected: State, found: dict[str, dict[str, Any]]) -> list[str]:
    """How the store differs from the expected state (each product named once)."""
    problems = []
    for pid in sorted(set(found) - set(expected)):
        problems.append(f"{pid} stored but should not be")
    for pid in sorted(set(expected) - set(found)):
        problems.append(f"{pid} missing")
    for pid in sorted(set(expected) & set(found)):
        differing = [k for k, v in expected[pid].items() if k in found[pid] and found[pid][k] != v]
        if differing:
            shown = {k: (found[pid][k], expected[pid][k]) for k in differing}
            problems.append(f"{pid}: (stored, expected) {shown}")
    return problems


def run(ctx: DrillContext) -> PhaseResult:
    result = PhaseResult(NAME, FAULT, allowed_errors=frozenset({"DEAD_LETTER"}))
    folder = ctx.phase_dir(NAME)
    entries, expected = plan(EVENTS)
    ids = PRODUCTS + POISON_IDS
    with ExitStack() as stack:
        server = stack.enter_context(redis_server(folder, ctx.host))
        serve = VrsProcess(
            "vrs-serve",
            folder,
            ctx.vrs_env(
                **events_env(server.url, VRS_QDRANT_DATA_DIR=str(folder / "qdrant")),
                **EVENTS_SETTINGS,
            ),
        )
        stack.callback(serve.stop)
        serve.start()
        serve.wait_ready()
        client = server.client(timeout_s=10)
        stack.callback(client.close)
        if wait_until(lambda: backlog(client) is not None, 30) is None:
            result.problems.append("the events consumer never created its group")
            return result
        burst = publish_burst(client, entries, expected)
        result.requests = burst.published
        # Killed once a third of the burst is acknowledged: the rest mid-way or unread.
        wait_until(
            lambda: (
                (state := backlog(client)) is not None
                and burst.published - state.left >= KILL_AFTER
            ),
            60,
            every_s=0.01,
        )
        serve.kill()
        at_kill = backlog(client)
        acked_at_kill = burst.published - at_kill.left if at_kill is not None else 0
        restarting = time.monotonic()
        serve.start()
        serve.wait_ready()
        restarted = time.monotonic()
        restart_s = restarted - restarting
        drained = wait_until(
            lambda: settled(client) and int(client.xlen(DEAD)) >= len(burst.poison_ids),
            DRAIN_LIMIT_S,
        )
        drain_s = time.monotonic() - restarted
        dead: Any = client.xrange(DEAD)
        dead_ids = [_text(fields.get(b"entry_id")) for _, fields in dead]
        attributes = stored(serve.address, ids)
        with grpc.insecure_channel(serve.address) as channel:
            stats = embedder_pb2_grpc.EmbedderServiceStub(channel).GetStats(
                embedder_pb2.GetEmbedderStatsRequest(), timeout=CALL_TIMEOUT_S
            )
        serve.stop()
        # The photos: read from the store itself, now that its owner has stopped.
        edge = QdrantEdgeStore.open(
            StoreSettings.model_construct(data_dir=folder / "qdrant"),
            stats.index.model_id,
            int(stats.index.dimension),
        )
        try:
            shas = {pid: item.image_sha256 for pid, item in edge.get(ids).items()}
        finally:
            edge.close()
    found = {
        pid: {
            "title": p.title,
            "category": p.category,
            "price": p.price,
            "in_stock": p.in_stock if p.HasField("in_stock") else True,
            "sha": shas.get(pid, ""),
        }
        for pid, p in attributes.items()
    }
    differences = compare(burst.expected, found)
    result.acked = len(burst.expected)
    result.found = len(burst.expected) - len(
        [d for d in differences if not d.endswith("should not be")]
    )
    if differences:
        result.problems.append(f"store differs: {'; '.join(differences[:4])}")
    result.errors["DEAD_LETTER"] = len(dead_ids)
    missing = sorted(set(burst.poison_ids) - set(dead_ids))
    wrong = sorted(set(dead_ids) - set(burst.poison_ids))
    if missing:
        result.problems.append(f"{len(missing)} poison events not dead-lettered: {missing[:3]}")
    if wrong:
        result.problems.append(f"{len(wrong)} valid events dead-lettered: {wrong[:3]}")
    if len(dead_ids) != len(set(dead_ids)):
        result.problems.append("an event was dead-lettered more than once")
    if drained is None:
        result.problems.append(f"the backlog did not drain within {DRAIN_LIMIT_S:.0f} s")
    result.notes.append(
        f"{burst.published} events ({len(burst.poison_ids)} poison); kill -9 after "
        f"{acked_at_kill} acknowledged; serving again {restart_s:.1f} s later; backlog drained "
        + ("never" if drained is None else f"{restart_s + drain_s:.1f} s after the restart began")
    )
    events = stats.events
    result.notes.append(
        f"restarted consumer: {events.processed} processed, {events.retried} retried, "
        f"{events.dead_lettered} dead-lettered; {len(burst.expected)} products expected"
    )
    return result


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
