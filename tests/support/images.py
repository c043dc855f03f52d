"""Images drawn by the tests: every colour mode and format the embedder must accept."""

from __future__ import annotations

import io
import random

import numpy as np
from PIL import Image

from vrs.catalog.sample import draw_product


def encode(image: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def product_jpeg(category: str = "shirt", seed: int = 0) -> bytes:
    return encode(draw_product(category, random.Random(seed)), "JPEG", quality=90)


def crop_and_recolour(data: bytes) -> bytes:
    """A different photo of the same product: cropped, resized, colour-shifted."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    w, h = image.size
    cropped = image.crop((int(w * 0.08), int(h * 0.06), int(w * 0.95), int(h * 0.97)))
    shifted = Image.merge(
        "RGB",
        [
            ch.point(lambda v, f=f, k=k: min(255, int(v * f + k)))
            for ch, f, k in zip(cropped.split(), (0.9, 1.05, 0.85), (12, -5, 20), strict=True)
        ],
    )
    return encode(shifted.resize((w + 31, h + 17)), "JPEG", quality=85)


def every_mode() -> dict[str, bytes]:
    """Valid inputs in the awkward modes: each must embed."""
    base = draw_product("bag", random.Random(3))
    rgba = base.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(base.size))
    sixteen = Image.fromarray(np.asarray(base.convert("L"), dtype=np.uint16) * 257)
    frames = [draw_product("hat", random.Random(i)) for i in range(3)]
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)
    return {
        "grayscale": encode(base.convert("L")),
        "palette": encode(base.convert("P", palette=Image.Palette.ADAPTIVE)),
        "cmyk": encode(base.convert("CMYK"), "JPEG"),
        "16-bit": encode(sixteen),
        "alpha": encode(rgba),
        "animated": gif.getvalue(),
        "webp": encode(base, "WEBP"),
        "1-bit": encode(base.convert("1")),
    }


def decompression_bomb(side: int = 20_000) -> bytes:
    """A tiny file that declares side x side pixels."""
    return encode(Image.new("1", (side, side)), "PNG", optimize=True)
