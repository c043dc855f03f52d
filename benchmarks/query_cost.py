"""What a photo search costs with the automatic region on and off, against the model alone.

    python -m benchmarks.query_cost [--queries 60] [--products 2000]

For each backbone (efficientnet_lite0 with its real weights, Inception v3 with random ones:
the same compute as real ones), starts vrs in-process (gRPC, Qdrant Edge holding --products
random vectors, no cache) and times uncached SearchByImage calls with VRS_MODEL_AUTO_REGION
on and off, and one forward pass of the model alone (batch of 1) in the same run. Prints
p50/p99 and the ratios; asserts nothing."""

from __future__ import annotations

import argparse
import asyncio
import io
import random
import statistics
import tempfile
import time
from pathlib import Path

import grpc
import numpy as np
from PIL import Image

from benchmarks.machine import cpu_model
from services.composition import create_server
from services.embedder.models.backbones import BACKBONES
from services.embedder.models.weights import load_model
from services.embedder.runtimes.engine import InferenceEngine
from vrs.catalog.products import Product, StoredProduct
from vrs.catalog.sample import draw_product
from vrs.settings import ModelSettings, Settings, StoreSettings
from vrs.store.qdrant_edge_store import QdrantEdgeStore
from vrs.v1 import common_pb2, search_pb2, search_pb2_grpc

BACKBONES_RUN = (("efficientnet_lite0", "pretrained"), ("inception_v3", "random"))


def model_only_ms(model: ModelSettings, runs: int) -> list[float]:
    """One forward pass of batch 1 on the model's own input size, timed `runs` times."""
    spec = BACKBONES[model.backbone]
    engine = InferenceEngine(spec, load_model(spec, model), model)
    engine.warm_up()
    pixels = np.zeros((engine.crop.crop, engine.crop.crop, 3), dtype=np.uint8)
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        engine.embed([pixels], catalog=False)
        timings.append(1000 * (time.perf_counter() - started))
    return timings


def fill(folder: Path, model: ModelSettings, products: int) -> None:
    """The collection of `model`, holding `products` random vectors."""
    spec = BACKBONES[model.backbone]
    model_id = load_model(spec, model).model_id
    store = QdrantEdgeStore.open(StoreSettings(data_dir=folder), model_id, spec.dimension)
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(products, spec.dimension)).astype(np.float32)
    store.upsert(
        [
            StoredProduct(Product(f"p{i}", price=float(i % 100)), model_id, vector=v)
            for i, v in enumerate(vectors)
        ]
    )
    store.optimize()
    store.close()


async def search_ms(folder: Path, model: ModelSettings, photos: list[bytes]) -> list[float]:
    settings = Settings.model_validate(
        {
            "server": {"host": "127.0.0.1", "port": 0},
            "store": {"data_dir": folder},
            "model": model.model_dump(),
            "log": {"level": "WARNING"},
        }
    )
    server, port = await create_server(settings, "all")
    timings = []
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = search_pb2_grpc.SearchServiceStub(channel)
            for i, photo in enumerate(photos):
                request = search_pb2.SearchByImageRequest(
                    image=common_pb2.ImageSource(data=photo), k=10
                )
                started = time.perf_counter()
                await stub.SearchByImage(request)
                if i >= 5:  # warm-up queries are not timed
                    timings.append(1000 * (time.perf_counter() - started))
    finally:
        await server.stop(1)
    return timings


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


def p(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--products", type=int, default=2000)
    args = parser.parse_args()
    # Distinct photos: every query misses every cache.
    photos = [
        jpeg(draw_product("shirt" if i % 2 else "shoes", random.Random(i)))
        for i in range(args.queries + 5)
    ]
    print(f"photo search cost, auto region on and off ({cpu_model()}, {args.products} products)")
    print(
        f"{'backbone':32} {'model p50':>10} {'off p50':>8} {'off p99':>8} {'on p50':>8} "
        f"{'on p99':>8} {'on/off p50':>10} {'on/model':>9}"
    )
    for backbone, weights in BACKBONES_RUN:
        with tempfile.TemporaryDirectory() as folder:
            base = {"backbone": backbone, "weights": weights}
            fill(Path(folder), ModelSettings.model_validate(base), args.products)
            model = model_only_ms(ModelSettings.model_validate(base), 30)
            off = await search_ms(
                Path(folder), ModelSettings.model_validate({**base, "auto_region": False}), photos
            )
            on = await search_ms(
                Path(folder), ModelSettings.model_validate({**base, "auto_region": True}), photos
            )
        model_p50 = statistics.median(model)
        print(
            f"{backbone + ' (' + weights + ')':32} {model_p50:9.1f}ms {p(off, 50):7.1f}ms "
            f"{p(off, 99):7.1f}ms {p(on, 50):7.1f}ms {p(on, 99):7.1f}ms "
            f"{p(on, 50) / p(off, 50):9.2f}x {p(on, 50) / model_p50:8.2f}x"
        )


if __name__ == "__main__":
    asyncio.run(main())
