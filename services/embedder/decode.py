"""Image bytes to the backbone's input: decoded, upright, RGB, resized and centre-cropped."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps, UnidentifiedImageError

from vrs.errors import InvalidImage

Pixels = npt.NDArray[np.uint8]  # H x W x 3


@dataclass(frozen=True)
class CropSpec:
    """Resize the shorter side to `resize`, then centre-crop `crop` x `crop`."""

    resize: int
    crop: int
    resample: Image.Resampling


def decode(data: bytes, max_pixels: int, min_side: int | None = None) -> Image.Image:
    """An RGB image; InvalidImage naming the problem for anything else.

    With `min_side`, a JPEG may be decoded at a reduced scale whose shorter side is still at
    least that long (libjpeg's DCT scaling: much faster for large photos).
    """
    if not data:
        raise InvalidImage("image is empty (0 bytes)")
    try:
        image: Image.Image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError as exc:
        raise InvalidImage("bytes are not an image in a known format") from exc
    except Image.DecompressionBombError as exc:
        raise InvalidImage(f"image is a decompression bomb: {exc}") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise InvalidImage(f"image data is corrupt or truncated: {exc}") from exc
    width, height = image.size
    if width * height > max_pixels:
        raise InvalidImage(
            f"image is {width}x{height} = {width * height} pixels, above the limit of "
            f"{max_pixels} (decompression bomb guard)"
        )
    if width == 0 or height == 0:
        raise InvalidImage(f"image has no pixels ({width}x{height})")
    try:
        image.seek(0)  # animated images: the first frame
        if min_side and image.format == "JPEG":
            image.draft("RGB", (min_side, min_side))
        image.load()
        image = ImageOps.exif_transpose(image)
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise InvalidImage(f"image data is corrupt or truncated: {exc}") from exc
    return _to_rgb(image)


def _to_rgb(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        # 16-bit and float images: scale to 8 bits rather than clip (convert("L") clips).
        values = np.asarray(image, dtype=np.float32)
        top = float(values.max()) if values.size else 0.0
        scale = 255.0 / 65535.0 if top > 255.0 else 1.0
        image = Image.fromarray(np.clip(values * scale, 0, 255).astype(np.uint8), mode="L")
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in image.info):
        # Product photos with transparency sit on white in every storefront.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def to_pixels(image: Image.Image, spec: CropSpec) -> Pixels:
    width, height = image.size
    scale = spec.resize / min(width, height)
    size = (max(spec.crop, round(width * scale)), max(spec.crop, round(height * scale)))
    resized = image.resize(size, spec.resample, reducing_gap=3.0)
    left = (size[0] - spec.crop) // 2
    top = (size[1] - spec.crop) // 2
    cropped = resized.crop((left, top, left + spec.crop, top + spec.crop))
    return np.asarray(cropped, dtype=np.uint8)


def prepare(data: bytes, max_pixels: int, spec: CropSpec) -> Pixels:
    """decode + to_pixels; runs in the decode pool."""
    return to_pixels(decode(data, max_pixels, spec.resize), spec)
