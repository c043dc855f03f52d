"""A product cut out of its studio photo: the background is the colour of the photo's border,
spread inwards from the border over the pixels close to it; the rest is the product."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFilter

Mask = npt.NDArray[np.bool_]

# Distances are the largest channel difference (0..255). A border is uniform when this share of
# it is within BORDER_TOLERANCE of its median colour: below it, the product (or a room, a model)
# reaches the border all round and there is no background to take away.
BORDER_TOLERANCE = 24
UNIFORM_BORDER = 0.6
# The background's own tolerance follows how uneven the border is (JPEG ringing, a studio's
# falling light), within bounds that keep a white shirt's grey shading apart from white paper.
MIN_TOLERANCE, MAX_TOLERANCE = 10, 24
# A product under this share of the photo is a mistaken cut (a white shirt on white): the
# whole photo is then the better picture of it.
MIN_ITEM = 0.05
_SPECK = 0.01  # share of the alpha's mass under which a run apart from the rest is a speck
_MAX_SIDE = 384  # the cut is made at this size at most: scenes show products smaller


@dataclass(frozen=True)
class Cutout:
    """A product's picture with an alpha channel (RGBA), cropped to the product."""

    image: Image.Image
    whole: bool  # True: the photo had no background to remove; it is used opaque


def cut_out(photo: Image.Image) -> Cutout:
    rgb = photo.convert("RGB")
    rgb.thumbnail((_MAX_SIDE, _MAX_SIDE))
    pixels = np.asarray(rgb, dtype=np.int16)
    border = _border(pixels)
    colour = np.median(border, axis=0)
    spread = np.abs(border - colour).max(axis=1)
    if np.mean(spread <= BORDER_TOLERANCE) < UNIFORM_BORDER:
        return _whole(rgb)
    tolerance = np.clip(2 * np.percentile(spread, 75) + 8, MIN_TOLERANCE, MAX_TOLERANCE)
    near = np.abs(pixels - colour).max(axis=2) <= tolerance
    item = ~_reached_from_border(near)
    if item.mean() < MIN_ITEM:
        return _whole(rgb)
    alpha = Image.fromarray(item.astype(np.uint8) * 255)
    # Eroded a pixel, so no rim of the old background shows, then feathered, so the edge does
    # not look cut with scissors.
    alpha = alpha.filter(ImageFilter.MinFilter(3)).filter(ImageFilter.GaussianBlur(0.8))
    bbox = _bulk(np.asarray(alpha))
    cut = rgb.convert("RGBA")
    cut.putalpha(alpha)
    return Cutout(cut.crop(bbox), whole=False)


def _bulk(alpha: npt.NDArray[np.uint8]) -> tuple[int, int, int, int]:
    """The box of the alpha but its specks: a speck of dust or a stray JPEG block apart from the
    product (a run of rows or columns of its own, of little mass) would stretch the box."""
    box = []
    for axis in (0, 1):
        profile = alpha.sum(axis=axis, dtype=np.float64)
        edges = np.flatnonzero(np.diff(np.concatenate(([0], (profile > 0).astype(np.int8), [0]))))
        runs = [(int(s), int(e)) for s, e in zip(edges[::2], edges[1::2], strict=True)]
        kept = [(s, e) for s, e in runs if profile[s:e].sum() >= _SPECK * profile.sum()] or runs
        box.append((kept[0][0], kept[-1][1]))
    (left, right), (top, bottom) = box
    return (left, top, right, bottom)


def _border(pixels: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    return np.concatenate([pixels[0], pixels[-1], pixels[1:-1, 0], pixels[1:-1, -1]])


def _reached_from_border(near: Mask) -> Mask:
    """The `near` pixels connected to the border through `near` pixels (4-neighbours): grown a
    step at a time until it stops growing."""
    reached = np.zeros_like(near)
    for edge in (np.s_[0], np.s_[-1], np.s_[:, 0], np.s_[:, -1]):
        reached[edge] = near[edge]
    while True:
        grown = reached.copy()
        grown[1:] |= reached[:-1]
        grown[:-1] |= reached[1:]
        grown[:, 1:] |= reached[:, :-1]
        grown[:, :-1] |= reached[:, 1:]
        grown &= near
        if np.array_equal(grown, reached):
            return reached
        reached = grown


def _whole(rgb: Image.Image) -> Cutout:
    return Cutout(rgb.convert("RGBA"), whole=True)
