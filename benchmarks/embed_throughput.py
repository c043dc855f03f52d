"""Embedding throughput per runtime: model-only and end-to-end, as ratios in one run.

    make bench        (or: python -m benchmarks.embed_throughput [--backbone inception_v3])

For each CPU runtime (torch eager fp32: vrs's default before OpenVINO; torch eager bf16;
OpenVINO fp32; OpenVINO bf16) it measures the model alone (prepared pixels, batches of 1 and
16, as many callers as the runtime runs passes at once) and the whole pipeline (JPEG bytes to
vectors through ImageEmbedder: bounded decoding, micro-batching, concurrent requests). Inputs:
the seed catalog's photos when ../shared has them, else drawn 640x640 JPEGs. One forward
pass an image (features `gem2-crop0.8`): the runtimes are compared, and the default features'
catalog blur would double every runtime's passes alike. Prints numbers and ratios; asserts
nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.machine import SEED_CATALOG, cpu_model
from services.embedder.decoding.cpu_decode import Pixels, prepare
from services.embedder.embedding.embedder import ImageEmbedder
from services.embedder.models.backbones import BACKBONES
from services.embedder.models.weights import load_model
from services.embedder.runtimes.engine import InferenceEngine
from vrs.catalog.sample import CATEGORIES, draw_product
from vrs.images.source import ImageFetcher
from vrs.settings import ImageSettings, ModelSettings

# (label, runtime, precision); the first is the baseline every ratio is against.
# One pass an image, whatever the default features (see the docstring).
FEATURES = "gem2-crop0.8"
RUNTIMES = (
    ("torch eager fp32", "torch", "fp32"),
    ("torch eager bf16", "torch", "bf16"),
    ("openvino fp32", "openvino", "fp32"),
    ("openvino bf16", "openvino", "bf16"),
    # Quantised here whatever the gate says: a speed figure (random Inception v3 weights
    # cannot be judged); what serves by default is the gate's call (docs/architecture.md).
    ("openvino int8", "openvino", "int8"),
)


@dataclass(frozen=True)
class Rates:
    """Images per second of one runtime."""

    model_b1: float
    model_b16: float
    pipeline: float
    passes: int


def photos(limit: int) -> tuple[list[bytes], str]:
    if (SEED_CATALOG / "catalog.csv").is_file():
        files = sorted(p for p in SEED_CATALOG.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg"})
        if files:
            data = [p.read_bytes() for p in files[:limit]]
            return data, f"{len(data)} seed catalog JPEGs"
    out = []
    for i in range(limit):
        buffer = io.BytesIO()
        image = draw_product(CATEGORIES[i % len(CATEGORIES)], random.Random(i)).resize((640, 640))
        image.save(buffer, format="JPEG", quality=90)
        out.append(buffer.getvalue())
    return out, f"{len(out)} drawn 640x640 JPEGs"


def engine(backbone: str, runtime: str, precision: str) -> InferenceEngine:
    weights = "pretrained" if backbone == "efficientnet_lite0" else "random"
    asked = "fp32" if precision == "int8" else precision
    settings = ModelSettings.model_validate(
        {
            "backbone": backbone,
            "weights": weights,
            "runtime": runtime,
            "cpu_precision": asked,
            "features": FEATURES,
        }
    )
    spec = BACKBONES[backbone]
    loaded = load_model(spec, settings)
    eng = InferenceEngine(spec, loaded, settings)
    if precision == "int8":
        eng.runner = quantised_runner(eng, loaded.module, settings)
    return eng


def quantised_runner(eng: InferenceEngine, module: Any, settings: ModelSettings) -> Any:
    """The engine's model quantised as the int8 runtime does, calibrated on drawn photos."""
    from services.embedder.runtimes.int8 import (
        CALIBRATION_PHOTOS,
        Int8Inputs,
        cpu_has_vnni,
        normalised,
        quantise,
    )
    from services.embedder.runtimes.openvino_runner import (
        OpenVinoRunner,
        converted,
        openvino_core,
    )

    core = openvino_core(None)
    side = eng.crop.crop
    model = converted(module, (side, side), core, None)
    inputs = Int8Inputs(eng.crop, eng.backbone.mean, eng.backbone.std, eng.features)
    images, _ = photos(CALIBRATION_PHOTOS)
    calibration = [normalised(inputs, [prepare(d, 10**8, eng.crop)]) for d in images]
    quantised = quantise(model, calibration, overflow_fix=not cpu_has_vnni())
    return OpenVinoRunner(quantised, "int8", core, settings.openvino_streams)


def model_only(eng: InferenceEngine, pixels: list[Pixels], batch: int, seconds: float) -> float:
    """Images/s of engine.embed alone, from as many threads as it runs passes at once."""
    batches = [pixels[i % len(pixels) : i % len(pixels) + batch] for i in range(0, 64, batch)]
    batches = [b for b in batches if len(b) == batch] or [pixels[:batch]]
    eng.embed(batches[0])  # warm-up at this batch size
    done = [0] * eng.parallelism
    stop = time.perf_counter() + seconds

    def work(slot: int) -> None:
        n = slot
        while time.perf_counter() < stop:
            eng.embed(batches[n % len(batches)])
            done[slot] += batch
            n += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=work, args=(s,)) for s in range(eng.parallelism)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.perf_counter() - started)


async def pipeline(eng: InferenceEngine, images: list[bytes], rounds: int) -> tuple[float, int]:
    """Images/s of JPEG bytes to vectors through ImageEmbedder, every image requested at once."""
    settings = ModelSettings()  # the engine's own batch size for its runtime
    embedder = ImageEmbedder(eng, settings, ImageSettings(), ImageFetcher(ImageSettings()))
    await asyncio.gather(*(embedder.embed(d) for d in images[:8]))  # warm-up
    passes = eng.forward_passes
    started = time.perf_counter()
    for _ in range(rounds):
        await asyncio.gather(*(embedder.embed(d) for d in images))
    elapsed = time.perf_counter() - started
    await embedder.close()
    await embedder.fetcher.close()
    return rounds * len(images) / elapsed, eng.forward_passes - passes


def decode_only(images: list[bytes], eng: InferenceEngine, workers: int) -> float:
    """Images/s of decoding and resizing alone, on `workers` threads (the embedder's pool)."""
    from concurrent.futures import ThreadPoolExecutor

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda d: prepare(d, 10**8, eng.crop), images * 2))
    return 2 * len(images) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backbone", choices=sorted(BACKBONES), action="append")
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--seconds", type=float, default=6.0, help="per model-only figure")
    parser.add_argument("--rounds", type=int, default=2, help="pipeline rounds over the images")
    args = parser.parse_args()
    images, source = photos(args.images)
    print(f"{cpu_model()}, {os.cpu_count()} cores; {source}")
    for backbone in args.backbone or ["inception_v3", "efficientnet_lite0"]:
        print(f"\n{backbone}: images/s (x: ratio to {RUNTIMES[0][0]}'s figure)")
        print(
            f"{'runtime':18} {'passes at once':>14} {'model b1':>14} {'model b16':>14} "
            f"{'pipeline':>14} {'pipeline/model':>14}"
        )
        rates: dict[str, Rates] = {}
        for label, runtime, precision in RUNTIMES:
            eng = engine(backbone, runtime, precision)
            pixels = [prepare(d, 10**8, eng.crop) for d in images[:32]]
            b1 = model_only(eng, pixels, 1, args.seconds)
            b16 = model_only(eng, pixels, 16, args.seconds)
            rate, passes = asyncio.run(pipeline(eng, images, args.rounds))
            rates[label] = Rates(b1, b16, rate, passes)
            base = rates[RUNTIMES[0][0]]
            best_model = max(b1, b16)
            print(
                f"{label:18} {eng.parallelism:>14} "
                f"{b1:7.1f} {b1 / base.model_b1:5.1f}x "
                f"{b16:7.1f} {b16 / base.model_b16:5.1f}x "
                f"{rate:7.1f} {rate / base.pipeline:5.1f}x "
                f"{rate / best_model:13.0%}"
            )
        print(
            f"decode + resize alone, 2 threads: {decode_only(images, eng, 2):.0f} img/s "
            f"({backbone}'s crop)"
        )


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
