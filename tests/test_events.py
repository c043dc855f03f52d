"""Catalog events through a real Redis stream into a real store: at least once, in order,
idempotent, poison dead-lettered, crash-safe."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import redis

from services.embedder.catalog_writer import CatalogWriter
from services.embedder.embedding import ImageEmbedder
from services.embedder.events.applier import ChangeApplier
from services.embedder.events.consumer import Entry, EventsConsumer
from services.embedder.model.engine import InferenceEngine
from tests.support.factories import make_embedder
from tests.support.images import product_jpeg
from tests.support.redis_server import RedisServer
from tests.support.search_env import running_vrs
from tests.support.stores import StoreFactory
from vrs.catalog import Product, ProductPatch
from vrs.events.publish import delete_event, publish, update_event, upsert_event
from vrs.events.schema import SCHEMA
from vrs.generation import CatalogGeneration
from vrs.image_source import ImageInput, sha256_hex
from vrs.redis_guard import RedisGuard, redis_client
from vrs.settings import EventsSettings, ImageSettings, RedisSettings
from vrs.store.async_store import AsyncStore
from vrs.store.base import VectorStore
from vrs.v1 import common_pb2, embedder_pb2, search_pb2

pytestmark = pytest.mark.slow
STREAM = "test:catalog-events"
DEAD = "test:catalog-events:dead"
CATEGORIES = ["shirt", "shoes", "bag", "hat"]


def events_settings(**overrides: Any) -> EventsSettings:
    values = {
        "stream": STREAM,
        "dead_letter_stream": DEAD,
        "group": "embedders",
        "batch_size": 16,
        "block_ms": 100,
        "claim_idle_ms": 400,
        "max_attempts": 3,
        "retry_backoff_ms": 50,
        "lock_ttl_ms": 5000,
        **overrides,
    }
    return EventsSettings.model_validate(values)


@dataclass
class Pipeline:
    """What an embedder replica runs: writer, applier, consumer (built per consumer)."""

    store: VectorStore
    async_store: AsyncStore
    writer: CatalogWriter
    redis_url: str
    consumers: list[EventsConsumer] = field(default_factory=list)

    async def consumer(
        self,
        name: str,
        cls: type[EventsConsumer] = EventsConsumer,
        on_applied: Callable[[str], None] | None = None,
        **settings: Any,
    ) -> EventsConsumer:
        client = redis_client(RedisSettings(url=self.redis_url), timeout_s=5)
        applier = ChangeApplier(self.writer, self.async_store, client, "test", 3600, 5000)
        consumer = cls(client, applier, events_settings(**settings), name, "test", on_applied)
        self.consumers.append(consumer)
        await consumer.start()
        return consumer


@pytest_asyncio.fixture
async def image_root(tmp_path: Path) -> Path:
    root = tmp_path / "images"
    root.mkdir()
    return root


@pytest_asyncio.fixture
async def embedder(
    effnet_engine: InferenceEngine, image_root: Path
) -> AsyncIterator[ImageEmbedder]:
    e = make_embedder(effnet_engine, ImageSettings(file_root=image_root))
    yield e
    await e.close()


@pytest_asyncio.fixture
async def pipeline(
    embedder: ImageEmbedder, store_factory: StoreFactory, redis_server: RedisServer
) -> AsyncIterator[Pipeline]:
    store = store_factory(embedder.model_id, embedder.dimension)
    async_store = AsyncStore(store, 10.0)
    guard = RedisGuard(redis_client(RedisSettings(url=redis_server.url)), RedisSettings())
    generation = CatalogGeneration(guard, "test")
    writer = CatalogWriter(embedder, async_store, generation, embedder.fetcher)
    pipe = Pipeline(store, async_store, writer, redis_server.url)
    yield pipe
    for consumer in pipe.consumers:
        await consumer.stop()
    await guard.close()


def sync_redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


@dataclass
class Scenario:
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


class Killable(EventsConsumer):
    """The real consumer, reporting when it is inside a batch so the test can kill it there."""

    in_batch: asyncio.Event

    async def _handle(self, entries: list[Entry]) -> None:
        self.in_batch.set()
        await super()._handle(entries)


async def test_500_events_with_crash_and_redeliveries(
    pipeline: Pipeline, image_root: Path, embedder: ImageEmbedder
) -> None:
    client = sync_redis(pipeline.redis_url)
    client.xgroup_create(STREAM, "embedders", id="0", mkstream=True)
    scenario = publish_scenario(client, image_root)
    # A consumer that takes 60 entries and dies before acknowledging any: they come back
    # late, after newer events of the same products were applied.
    client.xreadgroup("embedders", "ghost", {STREAM: ">"}, count=60)

    Killable.in_batch = asyncio.Event()
    first = await pipeline.consumer("first", cls=Killable)
    while first.counters.processed < 150:
        await asyncio.sleep(0.05)
    Killable.in_batch.clear()
    await Killable.in_batch.wait()
    await first.stop()  # killed inside a batch: read, not acknowledged
    pending = client.xpending_range(STREAM, "embedders", "-", "+", 1000, consumername="first")
    assert pending, "the consumer died holding unacknowledged entries"

    await pipeline.consumer("second")
    await drained(client, dead=scenario.poison)
    assert_store_equals(pipeline.store, scenario.expected)

    dead: list[tuple[bytes, dict[bytes, bytes]]] = client.xrange(DEAD)  # type: ignore[assignment]
    assert len(dead) == scenario.poison
    for _, fields in dead:
        assert fields[b"error"], "dead letters say why"
        assert b"event" in fields and fields[b"stream"] == STREAM.encode()
        assert int(fields[b"attempts"]) == 3
    reasons = b" ".join(f[b"error"] for _, f in dead).decode()
    for reason in (
        "not a valid CatalogEvent",
        "wire version",
        "schema is",
        "no product_id",
        "price -3.0",
        "outside the allowed image root",
        "no such file",
        "not an image",
        "scheme 'ftp'",
    ):
        assert reason in reasons


async def test_two_consumers_split_the_work_applying_each_event_once(
    pipeline: Pipeline, image_root: Path
) -> None:
    client = sync_redis(pipeline.redis_url)
    client.xgroup_create(STREAM, "embedders", id="0", mkstream=True)
    scenario = publish_scenario(client, image_root, n=200, seed=9)
    applied: dict[str, list[str]] = {"a": [], "b": []}
    await pipeline.consumer("a", on_applied=applied["a"].append, batch_size=8)
    await pipeline.consumer("b", on_applied=applied["b"].append, batch_size=8)
    await drained(client, dead=scenario.poison)
    every = applied["a"] + applied["b"]
    assert len(every) == len(set(every)), "no event applied twice"
    assert applied["a"] and applied["b"], "both consumers took a share"
    acked = sum(c.counters.processed for c in pipeline.consumers)
    assert acked == scenario.total - scenario.poison, "every valid event acknowledged once"
    assert_store_equals(pipeline.store, scenario.expected)


async def test_price_update_skips_the_model_and_invalidates_cached_results(
    tmp_path: Path, embedder: ImageEmbedder, store_factory: StoreFactory, redis_server: RedisServer
) -> None:
    store = store_factory(embedder.model_id, embedder.dimension)
    client = sync_redis(redis_server.url)
    events = events_settings(enabled=True).model_dump()
    async with running_vrs(
        tmp_path, embedder, store, redis={"url": redis_server.url}, events=events
    ) as vrs:
        photo = product_jpeg("shoes", 77)
        publish(
            client,
            STREAM,
            upsert_event(Product("e1", category="shoes", price=80.0), ImageInput(data=photo)),
        )

        async def price_of(pid: str) -> float | None:
            found = await vrs.embedder.GetProducts(
                embedder_pb2.GetProductsRequest(product_ids=[pid])
            )
            return found.products[0].price if found.products else None

        while await price_of("e1") != 80.0:
            await asyncio.sleep(0.05)
        query = search_pb2.SearchByImageRequest(image=common_pb2.ImageSource(data=photo), k=1)
        await vrs.search.SearchByImage(query)
        assert (await vrs.search.SearchByImage(query)).from_cache
        embedded = embedder.engine.images_embedded

        publish(client, STREAM, update_event(ProductPatch("e1", price=59.5)))
        while await price_of("e1") != 59.5:
            await asyncio.sleep(0.05)
        after = await vrs.search.SearchByImage(query)
        assert not after.from_cache, "the cached result with the old price is not served"
        assert after.matches[0].product.price == 59.5
        assert embedder.engine.images_embedded == embedded, "a price update runs no model"

        stats = await vrs.embedder.GetStats(embedder_pb2.GetEmbedderStatsRequest())
        assert stats.events.enabled and stats.events.stream == STREAM
        assert stats.events.processed == 2
        assert stats.events.lag == 0
