"""Retrieval quality per features variant: shop photos of the seed catalog find their product?

    nice -n 10 python -m benchmarks.feature_quality [--seed 2] [--per-product 2]

Embeds the seed catalog's photos and shop photos of them made by vrs.evaluation.queryset
(cropped, tilted, in perspective, other light, blurred, on a background, re-compressed) with
efficientnet_lite0's real weights in-process, searches exactly (Euclidean, numpy) and prints
recall@1/5, category P@5, img/s, the embedding time relative to the first variant in the same
run and the distances' scale. A `cblur` variant's catalog photos average in their blurred
copy's descriptor (their maps computed once more); its time is a query's (one pass). Choose
variants on one --seed, judge the choice on another. Prints numbers; asserts nothing."""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks.machine import SEED_CATALOG
from services.embedder.decoding.cpu_decode import CropSpec, Pixels, prepare, with_crop_fraction
from services.embedder.models.backbones import BACKBONES
from services.embedder.models.descriptors import blurred
from services.embedder.models.features import Features, parse_features
from services.embedder.models.pooling import l2_normalize, pool
from services.embedder.models.weights import load_model
from services.embedder.runtimes.engine import InferenceEngine
from vrs.evaluation.queryset import SourcePhoto, make_query_set
from vrs.settings import ModelSettings

VARIANTS = (
    "avg",
    "avg-l2",
    "gem3",
    "gem3-l2",
    "gem4-l2",
    "max-l2",
    "rmac-l2",
    "gem3-ms1_0.71",
    "rmac-l2-ms1_0.71",
    "gem2-crop0.8",
    "gem3-crop0.8",
    "gem2-crop0.8-cblur3",
)
BATCH = 32


@dataclass(frozen=True)
class Product:
    """A seed catalog product: id, category and photo file."""

    product_id: str
    category: str
    image: Path


@dataclass(frozen=True)
class Result:
    """One variant's retrieval quality and embedding speed."""

    variant: str
    recall_at_1: float
    recall_at_5: float
    category_p_at_5: float
    images_per_s: float
    # The scale of max_distance: median distance to the nearest product, and to any product.
    nearest_distance: float
    any_distance: float


def load_catalog(root: Path) -> list[Product]:
    with (root / "catalog.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [Product(row["product_id"], row["category"], root / row["image"]) for row in rows]


def shop_photos(
    catalog: list[Product], seed: int, per_product: int
) -> tuple[np.ndarray, list[bytes]]:
    """The query set of vrs.evaluation.queryset for `seed` (encoded images) and the catalog
    index of each query's product."""
    index = {p.product_id: i for i, p in enumerate(catalog)}
    sources = [SourcePhoto(p.product_id, p.image, p.category) for p in catalog]
    with tempfile.TemporaryDirectory() as folder:
        rows, failures = make_query_set(sources, Path(folder), seed, per_product)
        if failures:
            raise SystemExit("cannot make the query set: " + "; ".join(failures))
        photos = [(Path(folder) / r.image).read_bytes() for r in rows]
    return np.array([index[r.product_id] for r in rows]), photos


def feature_maps(
    module: torch.nn.Module,
    pixels: list[Pixels],
    scale: float,
    mean: float,
    blur: float | None = None,
) -> torch.Tensor:
    """Each image's last feature map at one input scale (N x C x H x W), computed once: every
    single-pass variant pools the same maps. With `blur`, of the blurred input (the catalog
    blur's sigma)."""
    maps = []
    with torch.inference_mode():
        for i in range(0, len(pixels), BATCH):
            x = torch.from_numpy(np.stack(pixels[i : i + BATCH])).permute(0, 3, 1, 2).float()
            x = (x / 255.0 - mean) / mean
            if blur is not None:
                x = blurred(x, blur)
            if scale != 1.0:
                side = round(x.shape[-1] * scale)
                x = F.interpolate(x, size=(side, side), mode="bilinear", antialias=True)
            maps.append(module(x.contiguous(memory_format=torch.channels_last)).float())
    return torch.cat(maps)


def descriptors(
    maps: dict[float, torch.Tensor],
    features: Features,
    catalog_blurred: dict[float, torch.Tensor] | None = None,
) -> np.ndarray:
    """What InferenceEngine.describe computes, from the cached maps (flips not cached); with
    the catalog's blurred maps, the first rows (the catalog's) average them in."""
    pooled = torch.stack([pool(maps[s], features) for s in features.scales]).mean(0)
    if catalog_blurred is not None:
        soft = torch.stack([pool(catalog_blurred[s], features) for s in features.scales]).mean(0)
        pooled = pooled.clone()
        pooled[: len(soft)] = (pooled[: len(soft)] + soft) / 2
    return (l2_normalize(pooled) if features.l2 else pooled).numpy()


def embedding_rate(engine: InferenceEngine, pixels: list[Pixels]) -> float:
    """Query images per second through the engine (pooling included), batches of BATCH."""
    engine.embed(pixels[:4], catalog=False)  # warm-up, not timed
    started = time.perf_counter()
    for i in range(0, len(pixels), BATCH):
        engine.embed(pixels[i : i + BATCH], catalog=False)
    return len(pixels) / (time.perf_counter() - started)


def evaluate(
    features: Features,
    maps: dict[float, torch.Tensor],
    catalog: list[Product],
    owners: np.ndarray,
    rate: float,
    catalog_blurred: dict[float, torch.Tensor] | None = None,
) -> Result:
    vectors = descriptors(maps, features, catalog_blurred)
    stored, asked = vectors[: len(catalog)], vectors[len(catalog) :]
    squared = (asked**2).sum(1)[:, None] - 2 * asked @ stored.T + (stored**2).sum(1)[None, :]
    top5 = np.argsort(squared, axis=1)[:, :5]  # exact Euclidean ranking
    categories = np.array([p.category for p in catalog])
    return Result(
        features.tag,
        float((top5[:, 0] == owners).mean()),
        float((top5 == owners[:, None]).any(axis=1).mean()),
        float((categories[top5] == categories[owners][:, None]).mean()),
        rate,
        float(np.median(np.sqrt(np.maximum(squared.min(axis=1), 0)))),
        float(np.median(np.sqrt(np.maximum(squared, 0)))),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=2, help="query set seed (1: choosing)")
    parser.add_argument("--per-product", type=int, default=2)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--timed-images", type=int, default=32, help="per variant, for img/s")
    parser.add_argument("--catalog", type=Path, default=SEED_CATALOG)
    args = parser.parse_args()
    if not (args.catalog / "catalog.csv").is_file():
        print(f"feature quality: no catalog at {args.catalog} (give --catalog): not measured")
        return
    variants = [parse_features(tag) for tag in args.variants.split(",")]
    if any(v.flip for v in variants):
        parser.error("flip variants take two passes an image: over the 1.5x time budget")
    settings = ModelSettings.model_validate({"backbone": "efficientnet_lite0", "features": "avg"})
    backbone = BACKBONES[settings.backbone]
    loaded = load_model(backbone, settings)
    catalog = load_catalog(args.catalog)
    owners, queries = shop_photos(catalog, args.seed, args.per_product)
    images = [p.image.read_bytes() for p in catalog] + queries
    module = loaded.module.eval().to(memory_format=torch.channels_last)
    # Feature maps per crop fraction and input scale, each computed once.
    pixels: dict[float | None, list[Pixels]] = {}
    maps: dict[float | None, dict[float, torch.Tensor]] = {}
    for fraction in dict.fromkeys(v.crop for v in variants):
        crop: CropSpec = with_crop_fraction(backbone.crop, fraction)
        pixels[fraction] = [prepare(data, 10**8, crop) for data in images]
        scales = sorted({s for v in variants if v.crop == fraction for s in v.scales}, reverse=True)
        maps[fraction] = {
            s: feature_maps(module, pixels[fraction], s, backbone.mean[0]) for s in scales
        }
    # The catalog's blurred maps per (crop fraction, sigma) of the cblur variants.
    soft: dict[tuple[float | None, float], dict[float, torch.Tensor]] = {}
    for v in variants:
        if v.catalog_blur is not None and (v.crop, v.catalog_blur) not in soft:
            shown = pixels[v.crop][: len(catalog)]
            soft[(v.crop, v.catalog_blur)] = {
                s: feature_maps(module, shown, s, backbone.mean[0], v.catalog_blur)
                for s in v.scales
            }
    print(
        f"efficientnet_lite0 ({loaded.model_id}), {len(catalog)} seed products, "
        f"{len(queries)} shop photos (seed {args.seed}), exact Euclidean search; "
        f"img/s: {args.timed_images} images through InferenceEngine, batches of {BATCH}"
    )
    print(
        f"{'variant':20} {'R@1':>6} {'R@5':>6} {'catP@5':>7} {'img/s':>7} {'time':>6} "
        f"{'d(top1)':>8} {'d(any)':>8}"
    )
    baseline: float | None = None
    for features in variants:
        engine = InferenceEngine(backbone, replace(loaded, features=features), settings)
        timed = pixels[features.crop][len(catalog) : len(catalog) + args.timed_images]
        rate = embedding_rate(engine, timed)
        blurred_maps = (
            None if features.catalog_blur is None else soft[(features.crop, features.catalog_blur)]
        )
        result = evaluate(features, maps[features.crop], catalog, owners, rate, blurred_maps)
        baseline = baseline or result.images_per_s
        print(
            f"{result.variant:20} {result.recall_at_1:6.3f} {result.recall_at_5:6.3f} "
            f"{result.category_p_at_5:7.3f} {result.images_per_s:7.1f} "
            f"{baseline / result.images_per_s:5.2f}x "
            f"{result.nearest_distance:8.3g} {result.any_distance:8.3g}",
            flush=True,
        )


if __name__ == "__main__":
    main()
