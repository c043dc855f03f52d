"""Resident memory of embedding huge images through the real decode path (ImageEmbedder).

Meant for a fresh process, since RSS is per process:

    python -m tests.support.memory_probe --images 3      # prints one JSON object
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from services.embedder.embedding.embedder import ImageEmbedder
from services.embedder.models.backbones import BACKBONES
from services.embedder.models.weights import load_model
from services.embedder.runtimes.engine import InferenceEngine
from tests.support.big_png import SIDE_36MP, big_rgba_png
from tests.support.images import product_jpeg
from vrs.images.source import ImageFetcher
from vrs.settings import ImageSettings, ModelSettings

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")


@dataclass(frozen=True)
class MemoryReport:
    """Resident memory (MB) before, at the peak of, and after embedding the images."""

    images: int
    png_bytes: int
    baseline_mb: float
    peak_mb: float | None  # None: the platform cannot reset the peak (VmHWM)
    after_mb: float


def resident_mb() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process, in MB."""
    values = {}
    for line in STATUS.read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def _reset_peak() -> bool:
    try:
        CLEAR_REFS.write_text("5")  # Linux: VmHWM restarts from the current RSS
    except OSError:
        return False
    return True


def _embedder() -> ImageEmbedder:
    # efficientnet_lite0 with random weights: the decode path is what is measured, and this
    # model is the lightest to build.
    model = ModelSettings(backbone="efficientnet_lite0", weights="random")
    spec = BACKBONES[model.backbone]
    engine = InferenceEngine(spec, load_model(spec, model), model)
    images = ImageSettings()
    return ImageEmbedder(engine, model, images, ImageFetcher(images))


async def measure(images: int, side: int = SIDE_36MP) -> MemoryReport:
    """Embeds `images` copies of a side x side RGBA PNG at once (a burst), after a warm-up."""
    data = big_rgba_png(side, side)
    embedder = _embedder()
    try:
        await embedder.warm_up()
        await embedder.embed_many([product_jpeg(seed=i) for i in range(4)])  # threads started
        baseline, _ = resident_mb()
        peak_known = _reset_peak()
        results = await embedder.embed_many([data] * images)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]
        after, peak = resident_mb()
    finally:
        await embedder.close()
    return MemoryReport(images, len(data), baseline, peak if peak_known else None, after)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=3)
    parser.add_argument("--side", type=int, default=SIDE_36MP)
    args = parser.parse_args()
    print(json.dumps(asdict(asyncio.run(measure(args.images, args.side)))))


if __name__ == "__main__":
    main()
