"""Decoding speed: image bytes to each backbone's input crop, against plain Pillow in the same run.

    python -m benchmarks.decode_speed [--rounds 5] [--threads 2]

Baseline: plain Pillow, as a first version would do it (full-size decode, resize the whole
image, crop). Against it, `prepare` as the embedder's decode pool runs it (DCT-scaled JPEG
decode, only the crop's region resampled). Per core: images per CPU-second of the decoding
thread, the best of --rounds rounds (other processes on a shared machine move CPU time far less
than wall time). Then the wall-clock rate of a pool of --threads threads sharing the work, as
the decode pool does. Inputs: the seed catalog's product photos (when ../shared has them) and
generated JPEGs of phone and camera size (photo-like grain, so they compress like photos).
Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from services.embedder.decoding.cpu_decode import CropSpec, Pixels, prepare, with_crop_fraction
from services.embedder.models.backbones import BACKBONES
from services.embedder.models.features import parse_features
from tests.support.photos import photo_jpeg
from vrs.settings import ImageSettings, ModelSettings

SEED_IMAGES = (
    Path(__file__).resolve().parents[2] / "shared" / "catalog" / "seed-products" / "images"
)
MAX_PIXELS = ImageSettings().max_pixels
ROUND_S = 0.6

Prepare = Callable[[bytes, CropSpec], Pixels]


def inputs() -> dict[str, list[bytes]]:
    kinds: dict[str, list[bytes]] = {}
    seed = sorted(SEED_IMAGES.glob("*/*.jpg"))
    if seed:
        kinds[f"seed photos ({len(seed)})"] = [p.read_bytes() for p in seed]
    kinds["640x640"] = [photo_jpeg(640, 640, s) for s in range(6)]
    kinds["2000x1500"] = [photo_jpeg(2000, 1500, s) for s in range(3)]
    kinds["1500x2000 progr."] = [photo_jpeg(1500, 2000, s, progressive=True) for s in range(3)]
    return kinds


def crops() -> dict[str, CropSpec]:
    """Each backbone's crop, efficientnet_lite0's with the default features' crop fraction."""
    fraction = parse_features(ModelSettings().features).crop
    return {
        "inception_v3": BACKBONES["inception_v3"].crop,
        "efficientnet_lite0": with_crop_fraction(BACKBONES["efficientnet_lite0"].crop, fraction),
    }


def plain_pillow(data: bytes, spec: CropSpec) -> Pixels:
    """The baseline: decode at full size, resize all of it, crop the centre."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    width, height = image.size
    scale = spec.resize / min(width, height)
    size = (max(spec.crop, round(width * scale)), max(spec.crop, round(height * scale)))
    resized = image.resize(size, spec.resample)
    left = (size[0] - spec.crop) // 2
    top = (size[1] - spec.crop) // 2
    return np.asarray(resized.crop((left, top, left + spec.crop, top + spec.crop)))


def embedder_prepare(data: bytes, spec: CropSpec) -> Pixels:
    return prepare(data, MAX_PIXELS, spec)


def per_core(fn: Prepare, images: list[bytes], spec: CropSpec, rounds: int) -> float:
    """Images per CPU-second of this thread, best round."""
    best = 0.0
    for _ in range(rounds):
        done = 0
        cpu = time.thread_time()
        wall = time.perf_counter()
        while time.perf_counter() - wall < ROUND_S:
            for data in images:
                fn(data, spec)
            done += len(images)
        best = max(best, done / (time.thread_time() - cpu))
    return best


def pooled(fn: Prepare, images: list[bytes], spec: CropSpec, threads: int, rounds: int) -> float:
    """Wall-clock images/s of `threads` threads sharing the work, best round."""
    work = images * max(1, round(4 * threads / len(images)) + 1)
    best = 0.0
    with ThreadPoolExecutor(threads) as pool:
        for _ in range(rounds):
            started = time.perf_counter()
            done = 0
            while time.perf_counter() - started < ROUND_S:
                list(pool.map(lambda data: fn(data, spec), work))
                done += len(work)
            best = max(best, done / (time.perf_counter() - started))
    return best


def mean_abs_diff(a: list[Pixels], b: list[Pixels]) -> float:
    return float(
        np.mean([np.abs(x.astype(np.int16) - y).mean() for x, y in zip(a, b, strict=True)])
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    kinds = inputs()
    specs = crops()
    print("JPEG bytes to the model's input crop; img/s per core (CPU time, best of rounds)")
    print(
        f"{'input':20} {'crop':26} {'KB':>5} {'plain Pillow':>13} {'prepare':>9} {'ratio':>6} "
        f"{'|px diff|':>9} {f'pool x{args.threads}':>9}"
    )
    for kind, images in kinds.items():
        kb = sum(len(d) for d in images) / len(images) / 1024
        for name, spec in specs.items():
            baseline = per_core(plain_pillow, images, spec, args.rounds)
            new = per_core(embedder_prepare, images, spec, args.rounds)
            diff = mean_abs_diff(
                [embedder_prepare(d, spec) for d in images], [plain_pillow(d, spec) for d in images]
            )
            pool = pooled(embedder_prepare, images, spec, args.threads, args.rounds)
            label = f"{name} {spec.resize}/{spec.crop}"
            print(
                f"{kind:20} {label:26} {kb:5.0f} {baseline:11.0f}/s {new:7.0f}/s "
                f"{new / baseline:5.2f}x {diff:9.2f} {pool:7.0f}/s"
            )
    print(
        "|px diff|: mean absolute difference of prepare's pixels from the baseline's (0-255); "
        f"pool x{args.threads}: prepare in {args.threads} threads, wall clock"
    )


if __name__ == "__main__":
    main()
