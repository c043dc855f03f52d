"""Embedding throughput: images/s per backbone and precision, and what micro-batching buys.

    make bench        (or: python -m benchmarks.embed_throughput [--images 64])
Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time

from services.embedder.decode import prepare
from services.embedder.embedding import ImageEmbedder
from services.embedder.model.backbones import BACKBONES
from services.embedder.model.engine import InferenceEngine
from services.embedder.model.weights import load_model
from vrs.image_source import ImageFetcher
from vrs.sample_catalog import CATEGORIES, draw_product
from vrs.settings import ImageSettings, ModelSettings


def photos(n: int) -> list[bytes]:
    import io

    out = []
    for i in range(n):
        buffer = io.BytesIO()
        draw_product(CATEGORIES[i % 4], random.Random(i)).resize((640, 640)).save(
            buffer, format="JPEG", quality=90
        )
        out.append(buffer.getvalue())
    return out


def engine(backbone: str, bf16: bool) -> InferenceEngine:
    weights = "pretrained" if backbone == "efficientnet_lite0" else "random"
    settings = ModelSettings.model_validate(
        {"backbone": backbone, "weights": weights, "cpu_bf16": bf16}
    )
    spec = BACKBONES[backbone]
    return InferenceEngine(spec, load_model(spec, settings), settings)


async def concurrent(eng: InferenceEngine, images: list[bytes], batch: int) -> tuple[float, int]:
    settings = ModelSettings(max_batch_size=batch, max_batch_wait_ms=5)
    embedder = ImageEmbedder(eng, settings, ImageSettings(), ImageFetcher(ImageSettings()))
    passes = eng.forward_passes
    started = time.perf_counter()
    await asyncio.gather(*(embedder.embed(d) for d in images))
    elapsed = time.perf_counter() - started
    await embedder.close()
    return len(images) / elapsed, eng.forward_passes - passes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=48)
    args = parser.parse_args()
    images = photos(args.images)
    print(f"{len(images)} JPEG photos of 640x640; decode+resize in the pool, model on the CPU")
    print(f"{'backbone':20} {'precision':9} {'one by one':>12} {'concurrent':>12} {'passes':>7}")
    for backbone in ("inception_v3", "efficientnet_lite0"):
        for bf16 in (False, True):
            eng = engine(backbone, bf16)
            pixels = [prepare(d, 10**8, BACKBONES[backbone].crop) for d in images[:4]]
            eng.embed(pixels)  # warm-up
            started = time.perf_counter()
            for p in [prepare(d, 10**8, BACKBONES[backbone].crop) for d in images[:16]]:
                eng.embed([p])
            single = 16 / (time.perf_counter() - started)
            rate, passes = asyncio.run(concurrent(eng, images, 32))
            print(
                f"{backbone:20} {'bf16' if bf16 else 'fp32':9} {single:10.1f}/s "
                f"{rate:10.1f}/s {passes:7d}"
            )


if __name__ == "__main__":
    main()
