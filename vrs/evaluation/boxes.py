"""A product's box in a query image, as queries.csv writes it: `x,y,width,height`, fractions of
the image's width and height (so the box survives any resize of the image)."""

from __future__ import annotations

import math

Box = tuple[float, float, float, float]

# Rounding to 4 decimals may push an edge box a hair past 1.
_SLACK = 1e-3


def box_of(pixels: tuple[int, int, int, int], size: tuple[int, int]) -> Box:
    """The fractions of a pixel box (left, top, right, bottom) in an image of `size`."""
    left, top, right, bottom = pixels
    width, height = size
    return (left / width, top / height, (right - left) / width, (bottom - top) / height)


def format_box(box: Box | None) -> str:
    """queries.csv's text of a box: four fractions with 4 decimals, or empty for no box."""
    return "" if box is None else ",".join(f"{v:.4f}" for v in box)


def parse_box(text: str) -> Box | None:
    """A box from queries.csv's text (None for empty); ValueError says what is wrong."""
    text = text.strip()
    if not text:
        return None
    parts = text.split(",")
    if len(parts) != 4:
        raise ValueError(f"box {text!r} needs 4 numbers x,y,width,height, has {len(parts)}")
    try:
        x, y, width, height = (float(p) for p in parts)
    except ValueError:
        raise ValueError(f"box {text!r} holds something that is not a number") from None
    if not all(math.isfinite(v) for v in (x, y, width, height)):
        raise ValueError(f"box {text!r} holds a number that is not finite")
    if x < 0 or y < 0 or width <= 0 or height <= 0:
        raise ValueError(f"box {text!r}: x and y must be >= 0, width and height > 0")
    if x + width > 1 + _SLACK or y + height > 1 + _SLACK:
        raise ValueError(f"box {text!r} reaches past the image (fractions of it, 0..1)")
    return (x, y, width, height)
