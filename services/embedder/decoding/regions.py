"""Query photos seen in parts: the whole frame squashed for finding the item, and a region of
it framed for the model (a region the caller gave, or the item found)."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from services.embedder.decoding.cpu_decode import CropSpec, Pixels, load_rgb, open_image
from services.embedder.decoding.large_decodes import LargeDecodeGate
from vrs.images.region import Region

# A found item's region keeps this share of its shorter side around its centre: the found box
# is a little loose, and the catalog's photos are framed the same way (a centre crop).
FOUND_CROP_FRACTION = 0.9
# The smallest region side we frame at full quality needs the photo decoded this large.
_MAX_WORKING_SIDE = 2048


def decode_for_regions(
    data: bytes, max_pixels: int, spec: CropSpec, smallest_side: float, gate: LargeDecodeGate
) -> Image.Image:
    """The photo decoded large enough that a region of `smallest_side` of its shorter side
    still fills the model's input (reduced-scale JPEG decoding does the rest)."""
    min_side = min(_MAX_WORKING_SIDE, math.ceil(spec.crop / max(smallest_side, 1e-3)))
    image = open_image(data, max_pixels, min_side)
    with gate.admit(image.width * image.height):
        return load_rgb(image, min_side)


def squashed(image: Image.Image, spec: CropSpec) -> Pixels:
    """The whole frame resized to the model's square input, aspect ignored: every part of the
    photo is seen, at the fractions a Region speaks in."""
    return np.asarray(image.resize((spec.crop, spec.crop), spec.resample), dtype=np.uint8)


def padded_region(image: Image.Image, region: Region, spec: CropSpec) -> Pixels:
    """The region, whole, padded to a square with its mean colour, at the model's input size:
    a caller's box is taken as it is, nothing of it cut."""
    part = image.crop(_pixels(image, region))
    side = max(part.size)
    colour = tuple(int(v) for v in np.asarray(part).reshape(-1, 3).mean(axis=0))
    square = Image.new("RGB", (side, side), colour)
    square.paste(part, ((side - part.width) // 2, (side - part.height) // 2))
    return np.asarray(square.resize((spec.crop, spec.crop), spec.resample), dtype=np.uint8)


def centred_region(image: Image.Image, region: Region, spec: CropSpec) -> Pixels:
    """The centre of the region (FOUND_CROP_FRACTION of its shorter side) at the model's input
    size: how a found item is framed."""
    part = image.crop(_pixels(image, region))
    side = FOUND_CROP_FRACTION * min(part.size)
    left, top = (part.width - side) / 2, (part.height - side) / 2
    return np.asarray(
        part.resize(
            (spec.crop, spec.crop), spec.resample, box=(left, top, left + side, top + side)
        ),
        dtype=np.uint8,
    )


def _pixels(image: Image.Image, region: Region) -> tuple[int, int, int, int]:
    width, height = image.size
    left, top = math.floor(region.x * width), math.floor(region.y * height)
    right = max(left + 1, math.ceil((region.x + region.width) * width))
    bottom = max(top + 1, math.ceil((region.y + region.height) * height))
    return left, top, min(right, width), min(bottom, height)
