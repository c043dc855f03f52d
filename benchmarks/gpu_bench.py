"""The GPU path: model-only and end-to-end images/s at batch 32, 64 and 128.

    make bench-gpu    (or: python -m benchmarks.gpu_bench [--images 512] [--seconds 5])

Inception v3 (random weights: the speed is the same), fp16 on the first CUDA device.
Model-only: engine.embed on pre-decoded images already on the device (normalisation, forward
pass, pooling, vectors back on the host), eager fp16 as the baseline measured in the same run,
then the CUDA-graph runner (torch.compile reduce-overhead, one graph per batch bucket).
End-to-end: JPEG bytes to vectors through ImageEmbedder, --images concurrent requests, with
JPEGs decoded on the CPU (Pillow, in the decode pool) and on the GPU (nvJPEG). Prints numbers;
asserts nothing. Without a CUDA device it says so and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import sys
import time
from typing import cast

import numpy as np
import torch
from PIL import Image

from services.embedder.decoding.cpu_decode import Pixels, prepare
from services.embedder.embedding.embedder import ImageEmbedder
from services.embedder.models.backbones import BACKBONES
from services.embedder.models.weights import load_model
from services.embedder.runtimes.engine import InferenceEngine
from vrs.catalog.sample import CATEGORIES, draw_product
from vrs.images.source import ImageFetcher
from vrs.settings import ImageSettings, ModelSettings

BATCHES = (32, 64, 128)
NO_GPU = "no CUDA device: bench-gpu measures the GPU path; nothing to measure here"


def photos(n: int, side: int) -> list[bytes]:
    """Product photos of `side` x `side` as JPEG (quality 90), with some grain so they
    compress like photos rather than flat drawings."""
    noise = np.random.default_rng(0)
    out = []
    for i in range(n):
        drawn = np.asarray(draw_product(CATEGORIES[i % 4], random.Random(i)).resize((side, side)))
        grain = noise.normal(0, 6, drawn.shape)
        image = np.clip(drawn + grain, 0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=90)
        out.append(buffer.getvalue())
    return out


def engine(cuda_graphs: bool) -> InferenceEngine:
    settings = ModelSettings(
        backbone="inception_v3",
        weights="random",
        device="cuda",
        cuda_graphs=cuda_graphs,
        max_batch_size=max(BATCHES),
    )
    spec = BACKBONES["inception_v3"]
    eng = InferenceEngine(spec, load_model(spec, settings), settings)
    started = time.perf_counter()
    eng.warm_up()
    print(f"{eng.device_name}: warm-up (every batch bucket) {time.perf_counter() - started:.1f} s")
    return eng


def model_rate(eng: InferenceEngine, on_device: list[Pixels], batch: int, seconds: float) -> float:
    """Images/s of back-to-back passes of `batch` images already on the device."""
    items = [on_device[i % len(on_device)] for i in range(batch)]
    eng.embed(items)
    images = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        eng.embed(items)  # vectors come back to the host: each pass is synchronised
        images += batch
    return images / (time.perf_counter() - started)


async def end_to_end(
    eng: InferenceEngine, images: list[bytes], batch: int, gpu_decode: bool, workers: int
) -> float:
    """Images/s of JPEG bytes to vectors, all of `images` requested at once."""
    model = ModelSettings(
        max_batch_size=batch,
        max_batch_wait_ms=5,
        decode_workers=workers,
        max_decode_queue=len(images),
        max_queue=len(images),
    )
    fetcher = ImageFetcher(ImageSettings())
    embedder = ImageEmbedder(eng, model, ImageSettings(), fetcher, device_decode=gpu_decode)
    try:
        await embedder.embed_many(images[:batch])  # decode threads and nvJPEG initialised
        started = time.perf_counter()
        results = await embedder.embed_many(images)
        elapsed = time.perf_counter() - started
    finally:
        await embedder.close()
        await fetcher.close()
    failed = [r for r in results if isinstance(r, BaseException)]
    if failed:
        raise RuntimeError(f"{len(failed)} images failed, first: {failed[0]!r}")
    return len(images) / elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=512, help="concurrent requests end-to-end")
    parser.add_argument("--side", type=int, default=1024, help="JPEG width and height")
    parser.add_argument("--seconds", type=float, default=5.0, help="model-only time per row")
    parser.add_argument("--decode-workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print(NO_GPU)
        return 0
    device = torch.device("cuda")
    print(f"GPU: {torch.cuda.get_device_name(device)}; torch {torch.__version__}")
    images = photos(args.images, args.side)
    eager, graphs = engine(cuda_graphs=False), engine(cuda_graphs=True)
    spec = graphs.crop
    # The engine takes device tensors where Pixels are expected (GPU-decoded images).
    on_device = [
        cast(Pixels, torch.from_numpy(prepare(d, 10**9, spec)).to(device)) for d in images[:32]
    ]
    print(f"{len(images)} JPEGs of {args.side}x{args.side}; {args.decode_workers} decode threads")
    header = (
        f"{'batch':>5} {'eager fp16':>11} {'graphs fp16':>12} {'vs eager':>9} "
        f"{'e2e cpu-dec':>12} {'e2e gpu-dec':>12} {'gpu/cpu-dec':>12} {'e2e/model':>10}"
    )
    print("images/s (model: pre-decoded on the device; e2e: JPEG bytes to vectors)")
    print(header)
    for batch in BATCHES:
        base = model_rate(eager, on_device, batch, args.seconds)
        fast = model_rate(graphs, on_device, batch, args.seconds)
        cpu_decode = asyncio.run(end_to_end(graphs, images, batch, False, args.decode_workers))
        gpu_decode = asyncio.run(end_to_end(graphs, images, batch, True, args.decode_workers))
        print(
            f"{batch:5d} {base:11.1f} {fast:12.1f} {fast / base:8.2f}x "
            f"{cpu_decode:12.1f} {gpu_decode:12.1f} {gpu_decode / cpu_decode:11.2f}x "
            f"{gpu_decode / fast:9.0%}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
