"""Photo-sized JPEGs drawn on the fly: large enough for the decoder's reduced-scale paths."""

from __future__ import annotations

import io
import random

import numpy as np
from PIL import Image

from vrs.catalog.sample import CATEGORIES, draw_product


def photo_jpeg(
    width: int, height: int, seed: int = 0, progressive: bool = False, mode: str = "RGB"
) -> bytes:
    """A drawn product at width x height with sensor-like grain (so it compresses like a
    photo), JPEG quality 90, in `mode` (RGB, L or CMYK)."""
    drawn = draw_product(CATEGORIES[seed % len(CATEGORIES)], random.Random(seed)).resize(
        (width, height), Image.Resampling.BICUBIC
    )
    grain = np.random.default_rng(seed).normal(0.0, 6.0, (height, width, 3))
    noisy = np.clip(np.asarray(drawn, dtype=np.float32) + grain, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noisy).convert(mode).save(buffer, "JPEG", quality=90, progressive=progressive)
    return buffer.getvalue()


def mpo(*frames: Image.Image) -> bytes:
    """A multi-picture JPEG (what phones write with a depth map or a second view)."""
    buffer = io.BytesIO()
    frames[0].save(buffer, "MPO", save_all=True, append_images=list(frames[1:]), quality=90)
    return buffer.getvalue()
