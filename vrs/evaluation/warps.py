"""The distortion kinds that move pixels: a crop, a tilt, a perspective, a background around the
photo. Tilt and perspective also move a mask the same way, so a scene's product box follows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

Fill = int | tuple[int, ...]
Move = Callable[[Image.Image, Fill], Image.Image]


@dataclass(frozen=True)
class Warp:
    """A drawn geometric change: the same move for a photo (corners in `fill`) and its mask."""

    move: Move
    fill: tuple[int, int, int]

    def photo(self, image: Image.Image) -> Image.Image:
        return self.move(image, self.fill)

    def mask(self, mask: Image.Image) -> Image.Image:
        return self.move(mask, 0)


def crop(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    width, height = image.size
    keep = rng.uniform(0.72, 0.95)
    w, h = max(8, int(width * keep)), max(8, int(height * keep))
    left = int(rng.integers(0, width - w + 1))
    top = int(rng.integers(0, height - h + 1))
    return image.crop((left, top, left + w, top + h))


def tilt_warp(size: tuple[int, int], rng: np.random.Generator) -> Warp:
    """A rotation of up to 12 degrees, the frame grown to hold the whole photo."""
    del size  # a rotation draws the same whatever the size
    fill = _fill(rng)
    angle = rng.uniform(-12.0, 12.0)

    def move(image: Image.Image, colour: Fill) -> Image.Image:
        return image.rotate(
            angle, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=colour
        )

    return Warp(move, fill)


def perspective_warp(size: tuple[int, int], rng: np.random.Generator) -> Warp:
    """Each corner moved up to 6% of the frame: a photo taken a little from the side."""
    width, height = size
    jitter = rng.uniform(-0.06, 0.06, size=8) * np.array([width, height] * 4)
    corners = np.array([0, 0, 0, height, width, height, width, 0], dtype=np.float64) + jitter
    quad = tuple(float(v) for v in corners)
    fill = _fill(rng)

    def move(image: Image.Image, colour: Fill) -> Image.Image:
        return image.transform(
            image.size, Image.Transform.QUAD, quad, Image.Resampling.BILINEAR, fillcolor=colour
        )

    return Warp(move, fill)


def tilt(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    return tilt_warp(image.size, rng).photo(image)


def perspective(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    return perspective_warp(image.size, rng).photo(image)


def background(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    width, height = image.size
    margin = rng.uniform(0.04, 0.18)
    canvas_w, canvas_h = int(width * (1 + 2 * margin)), int(height * (1 + 2 * margin))
    # A two-colour gradient: a table, a wall, a hand-held sheet of paper.
    start, end = rng.integers(60, 256, size=(2, 3))
    ramp = np.linspace(0.0, 1.0, canvas_h, dtype=np.float32)[:, None, None]
    rows = start[None, None, :] * (1 - ramp) + end[None, None, :] * ramp
    canvas = np.broadcast_to(rows, (canvas_h, canvas_w, 3)).astype(np.uint8)
    backdrop = Image.fromarray(np.ascontiguousarray(canvas))
    left = int(rng.integers(0, canvas_w - width + 1))
    top = int(rng.integers(0, canvas_h - height + 1))
    backdrop.paste(image, (left, top))
    return backdrop


def _fill(rng: np.random.Generator) -> tuple[int, int, int]:
    red, green, blue = (int(v) for v in rng.integers(150, 256, size=3))
    return (red, green, blue)
