"""The distortion kinds that change pixels in place, as a shopper's light, lens and camera do:
colour, shadow, glare, vignette, blur, lowres, noise and jpeg. Each is a function of
(image, rng) -> image: the same rng state gives the same image."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

Pixels = npt.NDArray[np.floating[Any]]


def colour(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.75, 1.25))
    image = ImageEnhance.Contrast(image).enhance(rng.uniform(0.75, 1.25))
    # A colour cast, as under warm or cold light.
    gains = rng.uniform(0.88, 1.12, size=3)
    pixels = np.asarray(image, dtype=np.float32) * gains
    return _image(pixels)


def blur(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    radius = float(rng.uniform(0.0, 1.5))
    # About one photo in five stays sharp: a steady hand.
    if radius > 0.3:
        image = image.filter(ImageFilter.GaussianBlur(radius))
    return image


def jpeg_quality(rng: np.random.Generator) -> int:
    return int(rng.integers(45, 86))


def jpeg(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A JPEG round trip at the quality of a phone's or a messaging app's re-compression."""
    out = io.BytesIO()
    image.save(out, "JPEG", quality=jpeg_quality(rng))
    with Image.open(out) as decoded:
        return decoded.convert("RGB")


def noise(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Sensor noise: a small sensor amplifies its signal in the dark, and its noise with it."""
    pixels = np.asarray(image, dtype=np.float32)
    sigma = rng.uniform(2.0, 7.0)
    luminance = pixels.mean(axis=2, keepdims=True) / 255.0
    spread = sigma * (1.0 + 1.5 * (1.0 - luminance))
    grain = rng.standard_normal(pixels.shape, dtype=np.float32)
    return _image(pixels + grain * spread)


def vignette(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Corners darker than the centre, as through a cheap lens."""
    pixels = np.asarray(image, dtype=np.float32)
    height, width = pixels.shape[:2]
    strength = rng.uniform(0.25, 0.6)
    cx, cy = (0.5 + rng.uniform(-0.1, 0.1, size=2)).tolist()
    ys = (np.arange(height, dtype=np.float32)[:, None] / max(1, height - 1) - cy) * 2.0
    xs = (np.arange(width, dtype=np.float32)[None, :] / max(1, width - 1) - cx) * 2.0
    radius = np.clip((xs**2 + ys**2) / 2.0, 0.0, 1.0)
    return _image(pixels * (1.0 - strength * radius**1.5)[:, :, None])


def lowres(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Downscaled then upscaled back: a thumbnail, a digital zoom, a screenshot of a chat."""
    width, height = image.size
    scale = rng.uniform(0.25, 0.5)
    small = image.resize(
        (max(8, round(width * scale)), max(8, round(height * scale))), Image.Resampling.BILINEAR
    )
    upscale = (Image.Resampling.BILINEAR, Image.Resampling.BICUBIC)[int(rng.integers(0, 2))]
    return small.resize((width, height), upscale)


def shadow(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A soft darker region over part of the frame: the shopper's hand, or the phone's, in the
    light."""
    width, height = image.size
    side = min(width, height)
    # A large ellipse centred near an edge, so it darkens a part of the frame, not all of it.
    edge = int(rng.integers(0, 4))
    along = rng.uniform(0.0, 1.0)
    cx, cy = {
        0: (along * width, 0.0),
        1: (width, along * height),
        2: (along * width, height),
        3: (0.0, along * height),
    }[edge]
    rx, ry = rng.uniform(0.35, 0.8, size=2) * np.array([width, height])
    mask = Image.new("L", image.size, 0)
    ImageDraw.Draw(mask).ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(side * rng.uniform(0.04, 0.12)))
    depth = rng.uniform(0.25, 0.55)
    weight = np.asarray(mask, dtype=np.float32)[:, :, None] / 255.0
    # Shade is lit by the blue sky, not the sun: a little cooler than the rest.
    tint = np.array([0.96, 0.98, 1.0], dtype=np.float32)
    factor = 1.0 - weight * (1.0 - (1.0 - depth) * tint)
    return _image(np.asarray(image, dtype=np.float32) * factor)


def glare(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A bright soft spot: a lamp or a window reflected on the product or the lens."""
    pixels = np.asarray(image, dtype=np.float32)
    height, width = pixels.shape[:2]
    cx, cy = rng.uniform(0.1, 0.9, size=2) * np.array([width, height])
    sigma = rng.uniform(0.06, 0.18) * min(width, height)
    strength = rng.uniform(0.5, 0.9)
    ys = np.arange(height, dtype=np.float32)[:, None] - cy
    xs = np.arange(width, dtype=np.float32)[None, :] - cx
    spot = np.exp(-(xs**2 + ys**2) / (2.0 * sigma**2)) * strength
    return _image(pixels + (255.0 - pixels) * spot[:, :, None])


def _image(pixels: Pixels) -> Image.Image:
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
