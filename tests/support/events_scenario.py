"""A catalog-event scenario on a real Redis stream: hundreds of upserts, updates, deletes,
producer-side duplicates and poison events, the state they must produce, and the checks that
the stream drained and the store holds exactly that state."""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from tests.support.events_pipeline import DEAD, STREAM
from tests.support.images import product_jpeg
from vrs.catalog.products import Product, ProductPatch
from vrs.events.publish import delete_event, publish, update_event, upsert_event
from vrs.events.schema import SCHEMA
from vrs.images.source import ImageInput, sha256_hex
from vrs.store.base import VectorStore

CATEGORIES = ["shirt", "shoes", "bag", "hat"]


@dataclass
class Scenario:
    """The state applying the valid events in order must produce, and how many were poison."""

    expected: dict[str, dict[str, Any]]
    poison: int
    total: int


def publish_scenario(
    client: redis.Redis, image_root: Path, n: int = 500, seed: int = 3
) -> Scenario:
    """n events: upserts (URI or inline image), price/stock updates, deletes, producer-side
    duplicates and a dozen poison events; returns the state applying the valid ones in order
    must produce."""
    rng = random.Random(seed)
    products = [f"p{i:02d}" for i in range(40)]
    images: dict[tuple[str, int], bytes] = {}
    for i, pid in enumerate(products):
        for variant in range(3):
            data = product_jpeg(CATEGORIES[i % 4], seed=1000 + 10 * i + variant)
            images[pid, variant] = data
            (image_root / f"{pid}-{variant}.jpg").write_bytes(data)
    poison_fields: list[dict[str, Any]] = [
        {"schema": SCHEMA, "v": "1", "event": "{not json"},
        {"schema": SCHEMA, "v": "1", "event": json.dumps({"kind": "EXPLODE", "product_id": "x"})},
        {"schema": SCHEMA, "v": "1", "event": json.dumps({"kind": "UPSERT", "product_id": ""})},
        {
            "schema": SCHEMA,
            "v": "1",
            "event": json.dumps({"kind": "UPSERT", "product_id": "x", "surprise": 1}),
        },
        {"schema": SCHEMA, "v": "2", "event": json.dumps({"kind": "DELETE", "product_id": "x"})},
        {"schema": "other.Thing", "v": "1", "event": "{}"},
        {
            "schema": SCHEMA,
            "v": "1",
            "event": json.dumps(
                {
                    "kind": "UPSERT",
                    "product_id": "neg",
                    "product": {"price": -3},
                    "image": {"uri": (image_root / "p00-0.jpg").as_uri()},
                }
            ),
        },
        {
            "schema": SCHEMA,
            "v": "1",
            "event": json.dumps(
                {
                    "kind": "UPSERT",
                    "product_id": "outside",
                    "image": {"uri": "file:///etc/hostname"},
                }
            ),
        },
        {
            "schema": SCHEMA,
            "v": "1",
            "event": json.dumps(
                {
                    "kind": "UPSERT",
                    "product_id": "missing-file",
                    "image": {"uri": (image_root / "nope.jpg").as_uri()},
                }
            ),
        },
        {
            "schema": SCHEMA,
            "v": "1",
            "event": json.dumps(
                {"kind": "UPSERT", "product_id": "corrupt", "image": {"data": "bm90IGFuIGltYWdl"}}
            ),
        },
        {
            "schema": SCHEMA,
            "v": "1",
            "event": json.dumps(
                {"kind": "UPSERT", "product_id": "ftp", "image": {"uri": "ftp://host/x.jpg"}}
            ),
        },
        {
            "schema": SCHEMA,
            "v": "1",
            "event": json.dumps({"kind": "UPDATE", "product_id": "p01", "patch": {"price": "NaN"}}),
        },
    ]
    poison_at = set(rng.sample(range(20, n), len(poison_fields)))
    state: dict[str, dict[str, Any]] = {}
    history: list[Any] = []
    for position in range(n):
        if position in poison_at:
            client.xadd(STREAM, poison_fields.pop())  # type: ignore[arg-type]
            continue
        roll = rng.random()
        pid = rng.choice(products)
        if roll < 0.1 and history:
            event = rng.choice(history)  # the producer sends an old event again
        elif roll < 0.55 or pid not in state:
            variant = rng.randrange(3)
            category = CATEGORIES[int(pid[1:]) % 4]
            product = Product(
                pid,
                title=f"{pid} v{variant}",
                category=category,
                brand="B",
                price=round(rng.uniform(5, 100), 2),
                in_stock=rng.random() > 0.2,
            )
            image = (
                ImageInput(uri=(image_root / f"{pid}-{variant}.jpg").as_uri())
                if rng.random() < 0.5
                else ImageInput(data=images[pid, variant])
            )
            event = upsert_event(product, image)
        elif roll < 0.85:
            event = update_event(
                ProductPatch(pid, price=round(rng.uniform(5, 100), 2), in_stock=rng.random() > 0.5)
            )
        else:
            event = delete_event(pid)
        history.append(event)
        publish(client, STREAM, event)
        _apply(state, event, images, image_root)
    return Scenario(state, 12, n)


def _apply(
    state: dict[str, dict[str, Any]], event: Any, images: dict[tuple[str, int], bytes], root: Path
) -> None:
    pid = event.product_id
    if event.kind == 1:
        if event.image.WhichOneof("source") == "uri":
            data = (root / Path(event.image.uri).name).read_bytes()
        else:
            data = event.image.data
        state[pid] = {
            "title": event.product.title,
            "category": event.product.category,
            "price": event.product.price,
            "in_stock": event.product.in_stock,
            "sha": sha256_hex(data),
        }
    elif event.kind == 2 and pid in state:
        state[pid]["price"] = event.patch.price
        state[pid]["in_stock"] = event.patch.in_stock
    elif event.kind == 3:
        state.pop(pid, None)


async def drained(client: redis.Redis, dead: int, timeout_s: float = 120) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        groups = {g["name"].decode(): g for g in client.xinfo_groups(STREAM)}
        group = groups.get("embedders")
        if group and not group["pending"] and not group["lag"] and client.xlen(DEAD) >= dead:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"stream not drained: {client.xinfo_groups(STREAM)}")


def assert_store_equals(store: VectorStore, expected: dict[str, dict[str, Any]]) -> None:
    everything = [f"p{i:02d}" for i in range(40)] + [
        "neg",
        "outside",
        "missing-file",
        "corrupt",
        "ftp",
        "x",
    ]
    stored = store.get(everything)
    assert sorted(stored) == sorted(expected), "no lost product, no resurrected delete"
    for pid, want in expected.items():
        got = stored[pid]
        assert (
            got.product.title,
            got.product.category,
            got.product.price,
            got.product.in_stock,
            got.image_sha256,
        ) == (want["title"], want["category"], want["price"], want["in_stock"], want["sha"]), pid
