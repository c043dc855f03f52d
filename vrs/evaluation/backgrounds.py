"""Scene backgrounds drawn from an rng: a cluttered shop or room (a wall and a floor, a clothes
rail, things of every colour), or a gentler plain wall with shelves."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

Size = tuple[int, int]
Colour = tuple[int, int, int]

# Share of scenes drawn cluttered; the others get the plain wall, so a set is not all of one
# difficulty.
CLUTTERED_SHARE = 0.6


def scene_background(size: Size, rng: np.random.Generator) -> Image.Image:
    if rng.uniform() < CLUTTERED_SHARE:
        return cluttered(size, rng)
    return plain_wall(size, rng)


def cluttered(size: Size, rng: np.random.Generator) -> Image.Image:
    """A wall and a floor split at a random horizon, a rail, and shapes of random colours."""
    width, height = size
    horizon = int(height * rng.uniform(0.45, 0.8))
    image = Image.new("RGB", size, _colour(rng, 90, 235))
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, horizon, width, height], fill=_colour(rng, 40, 200))
    rail_y = int(horizon * rng.uniform(0.12, 0.35))
    draw.line([0, rail_y, width, rail_y], fill=_colour(rng, 20, 120), width=int(rng.integers(3, 8)))
    for _ in range(int(rng.integers(12, 30))):
        _shape(draw, size, rng)
    image = _grain(image, rng, rng.uniform(4.0, 12.0))
    return image.filter(ImageFilter.GaussianBlur(rng.uniform(0.6, 1.6)))


def plain_wall(size: Size, rng: np.random.Generator) -> Image.Image:
    """A wall with a soft gradient of light and one to three shelves, a few things on them."""
    width, height = size
    top, bottom = _colour(rng, 150, 245), _colour(rng, 110, 225)
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    rows = np.array(top, np.float32) * (1 - ramp) + np.array(bottom, np.float32) * ramp
    wall = np.broadcast_to(rows, (height, width, 3)).astype(np.uint8)
    image = Image.fromarray(np.ascontiguousarray(wall))
    draw = ImageDraw.Draw(image)
    wood = _colour(rng, 60, 200)
    for _ in range(int(rng.integers(1, 4))):
        y = int(height * rng.uniform(0.1, 0.9))
        thick = int(rng.integers(6, 14))
        left, right = sorted(int(v) for v in rng.integers(-width // 4, width + width // 4, 2))
        draw.rectangle([left, y + thick, right, y + thick * 3], fill=_darker(top, 0.8))
        draw.rectangle([left, y, right, y + thick], fill=wood)
        for _ in range(int(rng.integers(0, 4))):
            w, h = int(rng.integers(12, 50)), int(rng.integers(15, 70))
            x = int(rng.integers(min(left, right - w), max(left + 1, right - w)))
            draw.rectangle([x, y - h, x + w, y], fill=_colour(rng, 30, 230, saturation=1.0))
    image = _grain(image, rng, rng.uniform(2.0, 6.0))
    return image.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.2)))


def _shape(draw: ImageDraw.ImageDraw, size: Size, rng: np.random.Generator) -> None:
    width, height = size
    x0, x1 = sorted(int(v) for v in rng.integers(-width // 5, width + width // 5, 2))
    y0, y1 = sorted(int(v) for v in rng.integers(-height // 5, height + height // 5, 2))
    # A room's things are rarely as big as the room: shrink the far corner toward the near one.
    x1 = x0 + max(4, int((x1 - x0) * rng.uniform(0.15, 0.6)))
    y1 = y0 + max(4, int((y1 - y0) * rng.uniform(0.15, 0.6)))
    colour = _colour(rng, 10, 250, saturation=1.0)
    shape = int(rng.integers(0, 3))
    if shape == 0:
        draw.rectangle([x0, y0, x1, y1], fill=colour)
    elif shape == 1:
        draw.ellipse([x0, y0, x1, y1], fill=colour)
    else:
        draw.line([x0, y0, x1, y1], fill=colour, width=int(rng.integers(2, 10)))


def _grain(image: Image.Image, rng: np.random.Generator, sigma: float) -> Image.Image:
    pixels = np.asarray(image, dtype=np.float32)
    pixels = pixels + rng.standard_normal(pixels.shape, dtype=np.float32) * sigma
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _colour(rng: np.random.Generator, low: int, high: int, saturation: float = 0.4) -> Colour:
    """A colour of brightness low..high, at most `saturation` of the way from grey to a random
    hue: walls and floors are muted, things in a room can be bright."""
    grey = rng.uniform(low, high)
    hue = rng.uniform(low, high, size=3)
    red, green, blue = (int(v) for v in grey + (hue - grey) * rng.uniform(0.0, saturation))
    return (red, green, blue)


def _darker(colour: Colour, factor: float) -> Colour:
    red, green, blue = (int(v * factor) for v in colour)
    return (red, green, blue)
