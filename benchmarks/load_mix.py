"""The requests `make loadtest` sends: repeated (cacheable) and new SearchByProduct and
SearchByImage queries and concurrent upserts, in a fixed rotation, with per-RPC outcomes."""

from __future__ import annotations

import asyncio
import io
import itertools
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import grpc
from PIL import Image

from services.cli.catalog_files import CatalogEntry
from vrs.v1 import common_pb2, embedder_pb2, embedder_pb2_grpc, search_pb2, search_pb2_grpc

PRODUCT_CACHED = "SearchByProduct cached"
PRODUCT_NEW = "SearchByProduct uncached"
IMAGE_CACHED = "SearchByImage cached"
IMAGE_NEW = "SearchByImage uncached"
UPSERT = "UpsertProducts"
KINDS = (PRODUCT_CACHED, PRODUCT_NEW, IMAGE_CACHED, IMAGE_NEW, UPSERT)
# One rotation of twenty calls: searches dominate, as in a shop, and one catalog change (which
# invalidates every cached result: the catalog generation moves) comes with them.
ROTATION = (
    PRODUCT_CACHED,
    IMAGE_CACHED,
    PRODUCT_NEW,
    PRODUCT_CACHED,
    IMAGE_NEW,
    PRODUCT_CACHED,
    IMAGE_CACHED,
    PRODUCT_NEW,
    PRODUCT_CACHED,
    IMAGE_NEW,
    UPSERT,
    PRODUCT_CACHED,
    IMAGE_CACHED,
    PRODUCT_NEW,
    PRODUCT_CACHED,
    IMAGE_NEW,
    PRODUCT_CACHED,
    IMAGE_CACHED,
    PRODUCT_NEW,
    IMAGE_NEW,
)
HOT = 2  # products and photos the "cached" queries repeat
CALL_DEADLINE_S = 30.0
UPSERT_PREFIX = "loadtest-"


@dataclass
class Workload:
    """What the requests are made of: the indexed catalog's ids and a few of its photos."""

    product_ids: list[str]
    photos: list[bytes]
    bases: list[Image.Image]
    created: list[str] = field(default_factory=list)

    @classmethod
    def from_catalog(cls, entries: Sequence[CatalogEntry]) -> Workload:
        picked = list(entries[:HOT])
        photos = [e.image.read_bytes() for e in picked]
        bases = []
        for photo in photos:
            with Image.open(io.BytesIO(photo)) as image:
                bases.append(image.convert("RGB").resize((224, 224)))
        return cls([e.product_id for e in entries], photos, bases)


@dataclass
class KindStats:
    """Outcomes of one kind of call at one concurrency level."""

    latencies_s: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    from_cache: int = 0


@dataclass
class LevelResult:
    """One concurrency level: per-kind outcomes and the wall time the level took."""

    concurrency: int
    elapsed_s: float
    kinds: dict[str, KindStats]

    @property
    def calls(self) -> int:
        return sum(len(s.latencies_s) + sum(s.errors.values()) for s in self.kinds.values())

    @property
    def errors(self) -> int:
        return sum(sum(s.errors.values()) for s in self.kinds.values())


class LoadClient:
    """Stubs of the search and embedder services (the same server for `vrs serve`)."""

    def __init__(self, search_channel: grpc.aio.Channel, embedder_channel: grpc.aio.Channel):
        self.search = search_pb2_grpc.SearchServiceStub(search_channel)
        self.embedder = embedder_pb2_grpc.EmbedderServiceStub(embedder_channel)

    async def call(self, kind: str, n: int, workload: Workload, rng: random.Random) -> bool:
        """Sends call number n of `kind`; True when the answer came from the cache."""
        if kind == PRODUCT_CACHED:
            product = search_pb2.SearchByProductRequest(product_id=workload.product_ids[n % HOT])
            answer = await self.search.SearchByProduct(product, timeout=CALL_DEADLINE_S)
        elif kind == PRODUCT_NEW:
            # A price cap never asked before: a result-cache miss, a real Qdrant query.
            product = search_pb2.SearchByProductRequest(
                product_id=rng.choice(workload.product_ids),
                k=rng.randint(5, 20),
                filter=search_pb2.SearchFilter(max_price=round(rng.uniform(10, 500), 2)),
            )
            answer = await self.search.SearchByProduct(product, timeout=CALL_DEADLINE_S)
        elif kind == IMAGE_CACHED:
            photo = common_pb2.ImageSource(data=workload.photos[n % len(workload.photos)])
            image = search_pb2.SearchByImageRequest(image=photo)
            answer = await self.search.SearchByImage(image, timeout=CALL_DEADLINE_S)
        elif kind == IMAGE_NEW:
            image = search_pb2.SearchByImageRequest(image=new_photo(workload, rng))
            answer = await self.search.SearchByImage(image, timeout=CALL_DEADLINE_S)
        else:
            await self.upsert(n, workload, rng)
            return False
        return bool(answer.from_cache)

    async def upsert(self, n: int, workload: Workload, rng: random.Random) -> None:
        product_id = f"{UPSERT_PREFIX}{n}-{rng.randrange(1 << 30)}"
        item = embedder_pb2.ProductUpsert(
            product=common_pb2.ProductAttributes(
                product_id=product_id,
                title="load test product",
                category="loadtest",
                price=round(rng.uniform(1, 500), 2),
            ),
            image=new_photo(workload, rng),
        )
        request = embedder_pb2.UpsertProductsRequest(items=[item])
        workload.created.append(product_id)
        answer = await self.embedder.UpsertProducts(request, timeout=CALL_DEADLINE_S)
        [result] = answer.results
        if result.outcome == embedder_pb2.UPSERT_OUTCOME_FAILED:
            raise ItemFailed(result.error.message)

    async def delete_created(self, workload: Workload) -> None:
        """Removes the products the upserts added (1000 ids a call, the server's limit)."""
        ids = workload.created
        for start in range(0, len(ids), 1000):
            request = embedder_pb2.DeleteProductsRequest(product_ids=ids[start : start + 1000])
            await self.embedder.DeleteProducts(request, timeout=CALL_DEADLINE_S)


class ItemFailed(Exception):
    """The call succeeded but its one item failed."""


def new_photo(workload: Workload, rng: random.Random) -> common_pb2.ImageSource:
    """A catalog photo with a random patch: bytes no cache has seen, still a product photo."""
    image = rng.choice(workload.bases).copy()
    x, y = rng.randrange(200), rng.randrange(200)
    image.paste(tuple(rng.randrange(256) for _ in range(3)), (x, y, x + 24, y + 24))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return common_pb2.ImageSource(data=out.getvalue())


async def run_level(
    client: LoadClient,
    workload: Workload,
    concurrency: int,
    requests: int,
    time_limit_s: float,
    seed: int = 0,
) -> LevelResult:
    """`concurrency` workers send `requests` calls in ROTATION order between them, stopping
    early at `time_limit_s` (calls in flight then finish within their deadline)."""
    kinds = {kind: KindStats() for kind in KINDS}
    numbers = itertools.count()
    started = time.monotonic()
    stop_at = started + time_limit_s

    async def worker(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        for n in numbers:
            if n >= requests or time.monotonic() >= stop_at:
                return
            kind = ROTATION[n % len(ROTATION)]
            stats = kinds[kind]
            t0 = time.perf_counter()
            try:
                cached = await client.call(kind, n, workload, rng)
            except grpc.aio.AioRpcError as exc:
                stats.errors[exc.code().name] += 1
            except ItemFailed:
                stats.errors["ITEM_FAILED"] += 1
            except Exception as exc:  # counted, never the end of the run: it is a benchmark
                stats.errors[type(exc).__name__] += 1
            else:
                stats.latencies_s.append(time.perf_counter() - t0)
                stats.from_cache += cached

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return LevelResult(concurrency, time.monotonic() - started, kinds)


def kinds_seen(result: LevelResult) -> dict[str, int]:
    """Calls made per kind (answered or failed)."""
    return {k: len(s.latencies_s) + sum(s.errors.values()) for k, s in result.kinds.items()}
