"""Indexing a catalog with several photos per product: photos/s through UpsertProducts, against
the same photos as one-photo products and against the model alone, in one run.

    python -m benchmarks.index_photos [--products 48] [--photos 4]

For each backbone (efficientnet_lite0 with its real weights, Inception v3 with random ones: the
same compute), starts vrs in-process (gRPC, Qdrant Edge, the default runtime for this CPU) and
upserts `--products` products of `--photos` JPEGs each (batches of 8 products), then the same
photos as one-photo products, each into an empty collection; the model alone embeds the same
photos (prepared, batches of 8). Prints photos/s and ratios; asserts nothing."""

from __future__ import annotations

import argparse
import asyncio
import io
import random
import tempfile
import time
from pathlib import Path

import grpc
import numpy as np

from benchmarks.machine import SEED_CATALOG, cpu_model
from services.composition import create_server
from services.embedder.decoding.cpu_decode import prepare
from services.embedder.models.backbones import BACKBONES
from services.embedder.models.weights import load_model
from services.embedder.runtimes.engine import InferenceEngine
from vrs.catalog.sample import CATEGORIES, draw_product
from vrs.settings import ModelSettings, Settings
from vrs.v1 import common_pb2, embedder_pb2, embedder_pb2_grpc

BACKBONES_RUN = (("efficientnet_lite0", "pretrained"), ("inception_v3", "random"))
BATCH_PRODUCTS = 8


def photos(count: int) -> tuple[list[bytes], str]:
    files = sorted(SEED_CATALOG.rglob("*.jpg")) if SEED_CATALOG.is_dir() else []
    if len(files) >= count:
        return [p.read_bytes() for p in files[:count]], "seed catalog JPEGs"
    out = []
    for i in range(count):
        buffer = io.BytesIO()
        draw_product(CATEGORIES[i % len(CATEGORIES)], random.Random(i)).save(buffer, "JPEG")
        out.append(buffer.getvalue())
    return out, "drawn JPEGs"


def model_only(model: ModelSettings, images: list[bytes]) -> float:
    """Photos/s of the engine alone on the prepared photos, batches of 8, one forward pass a
    photo (a query's): a catalog photo's extra views show in the ratios."""
    spec = BACKBONES[model.backbone]
    engine = InferenceEngine(spec, load_model(spec, model), model)
    engine.warm_up()
    pixels = [prepare(d, 10**8, engine.crop) for d in images]
    started = time.perf_counter()
    for i in range(0, len(pixels), 8):
        engine.embed(pixels[i : i + 8], catalog=False)
    return len(pixels) / (time.perf_counter() - started)


async def indexing(model: ModelSettings, products: list[list[bytes]]) -> float:
    """Photos/s of UpsertProducts over gRPC into an empty collection."""
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings.model_validate(
            {
                "server": {"host": "127.0.0.1", "port": 0},
                "store": {"data_dir": Path(folder)},
                "model": model.model_dump(),
                "log": {"level": "WARNING"},
            }
        )
        server, port = await create_server(settings, "all")
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = embedder_pb2_grpc.EmbedderServiceStub(channel)
                started = time.perf_counter()
                for start in range(0, len(products), BATCH_PRODUCTS):
                    items = [
                        embedder_pb2.ProductUpsert(
                            product=common_pb2.ProductAttributes(product_id=f"p{start + n}"),
                            images=[common_pb2.ImageSource(data=d) for d in shots],
                        )
                        for n, shots in enumerate(products[start : start + BATCH_PRODUCTS])
                    ]
                    await stub.UpsertProducts(
                        embedder_pb2.UpsertProductsRequest(items=items), timeout=600
                    )
                elapsed = time.perf_counter() - started
        finally:
            await server.stop(1)
    return sum(len(p) for p in products) / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=48)
    parser.add_argument("--photos", type=int, default=4)
    args = parser.parse_args()
    images, source = photos(args.products * args.photos)
    grouped = [images[i : i + args.photos] for i in range(0, len(images), args.photos)]
    single = [[d] for d in images]
    print(
        f"indexing photos/s ({cpu_model()}; {len(images)} {source}: {args.products} products "
        f"x {args.photos} photos, then as {len(images)} one-photo products)"
    )
    print(f"{'backbone':32} {'model':>8} {'1 photo':>8} {'x photos':>8} {'x/1':>6} {'x/model':>8}")
    for backbone, weights in BACKBONES_RUN:
        model = ModelSettings.model_validate({"backbone": backbone, "weights": weights})
        alone = model_only(model, images)
        one = await indexing(model, single)
        several = await indexing(model, grouped)
        print(
            f"{backbone + ' (' + weights + ')':32} {alone:8.1f} {one:8.1f} {several:8.1f} "
            f"{several / one:6.2f} {several / alone:8.2f}"
        )


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    asyncio.run(main())
