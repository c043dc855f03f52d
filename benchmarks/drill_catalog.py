"""What the drill's phases share: where a phase runs (its folder, host, environment and time
budget), product photos drawn on the fly, and seeding a server with products."""

from __future__ import annotations

import io
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from PIL import Image

from benchmarks.drill_procs import DrillError, free_port
from benchmarks.load_mix import Workload
from vrs.catalog.sample import BRANDS, CATEGORIES, draw_product
from vrs.v1 import common_pb2, embedder_pb2, embedder_pb2_grpc

CALL_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class DrillContext:
    """Where a phase runs: its own folder, the loopback host, the base environment of its vrs
    processes, and the monotonic time the whole drill must be done by."""

    workdir: Path
    host: str
    env: dict[str, str]
    deadline: float

    def phase_dir(self, name: str) -> Path:
        folder = self.workdir / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def port(self) -> str:
        return str(free_port(self.host))

    def vrs_env(self, **overrides: str) -> dict[str, str]:
        """The base environment with a free gRPC port, and overrides."""
        return {**self.env, "VRS_GRPC_PORT": self.port(), **overrides}

    def remaining_s(self) -> float:
        return self.deadline - time.monotonic()


def photo(category: str, seed: int) -> bytes:
    """A drawn product photo (JPEG)."""
    out = io.BytesIO()
    draw_product(category, random.Random(seed)).save(out, format="JPEG", quality=90)
    return out.getvalue()


@dataclass(frozen=True)
class DrawnProduct:
    """A product of the drill's catalog and its photo."""

    attributes: common_pb2.ProductAttributes
    photo: bytes


def drawn_catalog(count: int, prefix: str, seed: int = 11) -> list[DrawnProduct]:
    rng = random.Random(seed)
    products = []
    for i in range(count):
        category = CATEGORIES[i % len(CATEGORIES)]
        attributes = common_pb2.ProductAttributes(
            product_id=f"{prefix}{i:03d}",
            title=f"drill {category} {i}",
            category=category,
            brand=BRANDS[i % len(BRANDS)],
            price=round(rng.uniform(5, 300), 2),
            currency="USD",
            in_stock=rng.random() > 0.2,
        )
        products.append(DrawnProduct(attributes, photo(category, seed * 1000 + i)))
    return products


def seed(address: str, products: list[DrawnProduct], batch: int = 16) -> None:
    """Upserts the products (inline photos); DrillError unless every one is written."""
    with grpc.insecure_channel(address) as channel:
        stub = embedder_pb2_grpc.EmbedderServiceStub(channel)
        for start in range(0, len(products), batch):
            items = [
                embedder_pb2.ProductUpsert(
                    product=p.attributes, image=common_pb2.ImageSource(data=p.photo)
                )
                for p in products[start : start + batch]
            ]
            answer = stub.UpsertProducts(
                embedder_pb2.UpsertProductsRequest(items=items), timeout=CALL_TIMEOUT_S
            )
            failed = [
                f"{r.product_id}: {r.error.message}"
                for r in answer.results
                if r.outcome == embedder_pb2.UPSERT_OUTCOME_FAILED
            ]
            if failed:
                raise DrillError(f"seeding failed: {failed[:3]}")


def workload(products: list[DrawnProduct], hot: int = 2) -> Workload:
    """load_mix's workload over the drawn catalog: its ids, and a few photos to vary."""
    photos = [p.photo for p in products[:hot]]
    bases = []
    for data in photos:
        with Image.open(io.BytesIO(data)) as image:
            bases.append(image.convert("RGB").resize((224, 224)))
    return Workload([p.attributes.product_id for p in products], photos, bases)


def stored(address: str, product_ids: list[str]) -> dict[str, common_pb2.ProductAttributes]:
    """The products the store holds among product_ids (GetProducts, 1000 ids a call)."""
    found: dict[str, common_pb2.ProductAttributes] = {}
    with grpc.insecure_channel(address) as channel:
        stub = embedder_pb2_grpc.EmbedderServiceStub(channel)
        for start in range(0, len(product_ids), 1000):
            answer = stub.GetProducts(
                embedder_pb2.GetProductsRequest(product_ids=product_ids[start : start + 1000]),
                timeout=CALL_TIMEOUT_S,
            )
            found.update({p.product_id: p for p in answer.products})
    return found


@dataclass
class CallStats:
    """Outcomes of a load: latencies of the answered calls, failures by status code."""

    latencies_s: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def calls(self) -> int:
        return len(self.latencies_s) + sum(self.errors.values())


async def timed(stats: CallStats, call: Callable[[], Awaitable[object]]) -> None:
    """One call, its latency or its failure counted (never raised: the load goes on)."""
    started = time.perf_counter()
    try:
        await call()
    except grpc.aio.AioRpcError as exc:
        stats.errors[exc.code().name] += 1
    except Exception as exc:  # counted: a drill reports, it does not stop at the first
        stats.errors[type(exc).__name__] += 1
    else:
        stats.latencies_s.append(time.perf_counter() - started)
