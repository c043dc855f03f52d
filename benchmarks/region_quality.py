"""The quality table of regions: shop photos and items in scenes, through the API, with the
automatic region off (the whole photo) and on (the default), and scenes on their box.

    python -m benchmarks.region_quality [--seed 11] [--per-product 1]

Makes a shop-photo set and a scene set of the seed catalog (default: seed 11 and the judging
mixes of docs/quality.md#measured, which the region's choices were not tuned on), indexes the
catalog with efficientnet_lite0's real weights in a vrs started in-process (gRPC, Qdrant Edge,
no cache) and prints recall@1 / recall@5 of each. Prints numbers; asserts nothing."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import Sequence
from pathlib import Path

import grpc

from benchmarks.machine import SEED_CATALOG, cpu_model
from services.cli.catalog_files import read_catalog
from services.cli.index import upsert_request
from services.composition import create_server
from vrs.evaluation.boxes import Box
from vrs.evaluation.mixes import parse_mix
from vrs.evaluation.queryset import SCENE, SHOP, QueryRow, SourcePhoto, make_query_set
from vrs.settings import Settings
from vrs.v1 import common_pb2, embedder_pb2, embedder_pb2_grpc, search_pb2, search_pb2_grpc

# Judging mixes: each holds one default kind out (perspective, JPEG) and adds others.
SHOP_JUDGE = "crop,colour,tilt,background,shadow,glare,blur,noise,jpeg"
SCENE_JUDGE = "colour,perspective,shadow,vignette,blur,noise"


def settings(data_dir: Path, auto_region: bool) -> Settings:
    return Settings.model_validate(
        {
            "server": {"host": "127.0.0.1", "port": 0},
            "store": {"data_dir": data_dir},
            "model": {"backbone": "efficientnet_lite0", "auto_region": auto_region},
            "log": {"level": "WARNING"},
        }
    )


async def index(data_dir: Path, catalog: Path) -> None:
    server, port = await create_server(settings(data_dir, True), "all")
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = embedder_pb2_grpc.EmbedderServiceStub(channel)
            entries = read_catalog(catalog)
            for start in range(0, len(entries), 32):
                items = [upsert_request(e) for e in entries[start : start + 32]]
                await stub.UpsertProducts(embedder_pb2.UpsertProductsRequest(items=items))
    finally:
        await server.stop(1)


def region_of(box: Box | None) -> common_pb2.Region | None:
    if box is None:
        return None
    x, y, width, height = box
    return common_pb2.Region(x=x, y=y, width=width, height=height)


async def recall(
    stub: search_pb2_grpc.SearchServiceAsyncStub,
    folder: Path,
    rows: Sequence[QueryRow],
    boxes: bool,
) -> tuple[float, float]:
    """recall@1 and recall@5 of the queries (on their boxes when `boxes`)."""
    first = five = 0
    for row in rows:
        request = search_pb2.SearchByImageRequest(
            image=common_pb2.ImageSource(data=(folder / row.image).read_bytes()),
            k=5,
            region=region_of(row.box) if boxes else None,
        )
        ids = [m.product_id for m in (await stub.SearchByImage(request)).matches]
        first += bool(ids) and ids[0] == row.product_id
        five += row.product_id in ids
    return first / len(rows), five / len(rows)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--per-product", type=int, default=1)
    parser.add_argument("--shop-mix", default=SHOP_JUDGE)
    parser.add_argument("--scene-mix", default=SCENE_JUDGE)
    args = parser.parse_args()
    catalog = SEED_CATALOG / "catalog.csv"
    photos = [SourcePhoto(e.product_id, e.image, e.category) for e in read_catalog(catalog)]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sets = {
            kind: make_query_set(
                photos, root / kind, args.seed, args.per_product, kind=kind, mix=parse_mix(mix)
            )[0]
            for kind, mix in ((SHOP, args.shop_mix), (SCENE, args.scene_mix))
        }
        await index(root / "data", catalog)
        table: dict[str, dict[str, tuple[float, float]]] = {}
        for auto in (False, True):
            server, port = await create_server(settings(root / "data", auto), "all")
            try:
                async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                    stub = search_pb2_grpc.SearchServiceStub(channel)
                    column = "automatic region" if auto else "whole photo"
                    for kind, rows in sets.items():
                        found = await recall(stub, root / kind, rows, boxes=False)
                        table.setdefault(kind, {})[column] = found
                    if auto:
                        boxed = await recall(stub, root / SCENE, sets[SCENE], boxes=True)
                        table[SCENE]["box given"] = boxed
            finally:
                await server.stop(1)
    print(
        f"region quality, recall@1 / recall@5 through the API (efficientnet_lite0, seed "
        f"{args.seed}, {len(photos)} products, {cpu_model()})"
    )
    print(f"  shop mix: {args.shop_mix}\n  scene mix: {args.scene_mix}")
    columns = ("whole photo", "automatic region", "box given")
    print(f"{'query set':12}" + "".join(f"{c:>20}" for c in columns))
    for kind in (SHOP, SCENE):
        cells = [table[kind].get(c) for c in columns]
        print(
            f"{kind:12}"
            + "".join(f"{'-' if v is None else f'{v[0]:.3f} / {v[1]:.3f}':>20}" for v in cells)
        )


if __name__ == "__main__":
    asyncio.run(main())
