"""Scene queries: a product cut out of its photo and placed small and off-centre in a cluttered
scene, other products behind it, the whole then photographed (a distortion mix); its box in the
final image is recorded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from vrs.evaluation.backgrounds import scene_background
from vrs.evaluation.boxes import Box, box_of
from vrs.evaluation.cutouts import Cutout
from vrs.evaluation.mixes import SCENE_MIX, Mix, apply_with_mask, check_scene_mix, encode

PixelBox = tuple[int, int, int, int]  # left, top, right, bottom

CANVASES = ((640, 480), (480, 640))
# The main product's longer side, as a share of the canvas's shorter side.
MAIN_SIZE = (0.35, 0.60)
# A distractor's longer side, as a share of the main product's: always smaller.
DISTRACTOR_SIZE = (0.5, 0.8)
# The main product's centre is at least this share of the frame away from the frame's centre
# (in x or in y): shoppers rarely frame what they want dead centre.
OFF_CENTRE = 0.12
# Share of distractors placed against the main product (partly behind it) rather than anywhere.
NEAR_MAIN = 0.4


@dataclass(frozen=True)
class Layout:
    """A composed scene before its photo distortions: the picture, the main product's mask,
    and the pixel boxes of the main product and of the distractors (these may leave the
    frame)."""

    image: Image.Image
    mask: Image.Image
    main: PixelBox
    distractors: tuple[PixelBox, ...]


@dataclass(frozen=True)
class SceneShot:
    """A scene query: its JPEG bytes and the main product's box in it (fractions)."""

    data: bytes
    box: Box


def scene_shot(
    main: Cutout,
    distractors: Sequence[Cutout],
    rng: np.random.Generator,
    mix: Mix = SCENE_MIX,
) -> SceneShot:
    """The scene of `main` among `distractors`, photographed through `mix` (scene kinds only:
    tilt and perspective move the recorded box with the pixels)."""
    check_scene_mix(mix)
    layout = compose(main, distractors, rng)
    image, mask = apply_with_mask(layout.image, layout.mask, mix, rng)
    pixels = mask.point(lambda v: 255 if v >= 128 else 0).getbbox()
    if pixels is None:
        raise ValueError("the scene lost its product")  # kept inside the frame: never seen
    return SceneShot(encode(image, mix, rng), box_of(pixels, image.size))


def compose(main: Cutout, distractors: Sequence[Cutout], rng: np.random.Generator) -> Layout:
    size = CANVASES[int(rng.integers(0, len(CANVASES)))]
    canvas = scene_background(size, rng)
    main_image = _resized(main.image, rng.uniform(*MAIN_SIZE) * min(size))
    main_box = _main_place(main_image.size, size, rng)
    placed = []
    for distractor in distractors:
        longer = rng.uniform(*DISTRACTOR_SIZE) * max(main_image.size)
        image = _resized(distractor.image, longer)
        box = _distractor_place(image.size, size, main_box, rng)
        _paste(canvas, image, box, rng)
        placed.append(box)
    # Last, so distractors that overlap it are behind it.
    _paste(canvas, main_image, main_box, rng)
    mask = Image.new("L", size, 0)
    mask.paste(main_image.getchannel("A"), main_box[:2])
    return Layout(canvas, mask, main_box, tuple(placed))


def _resized(image: Image.Image, longer: float) -> Image.Image:
    scale = longer / max(image.size)
    width, height = (max(4, round(v * scale)) for v in image.size)
    return image.resize((width, height), Image.Resampling.LANCZOS)


def _main_place(
    item: tuple[int, int], frame: tuple[int, int], rng: np.random.Generator
) -> PixelBox:
    """A place wholly inside the frame whose centre is off the frame's centre in x or y."""
    axis = int(rng.integers(0, 2))
    centre = []
    for n, (side, length) in enumerate(zip(item, frame, strict=True)):
        low, high = side / 2, length - side / 2
        if n == axis:
            # Either side of the central band; the band is clipped to what the item leaves.
            band = min(OFF_CENTRE * length, high - length / 2)
            near, far = length / 2 + band, high
            offset = rng.uniform(near, far) if far > near else high
            centre.append(offset if rng.uniform() < 0.5 else length - offset)
        else:
            centre.append(rng.uniform(low, high))
    left, top = round(centre[0] - item[0] / 2), round(centre[1] - item[1] / 2)
    left = min(max(left, 0), frame[0] - item[0])
    top = min(max(top, 0), frame[1] - item[1])
    return (left, top, left + item[0], top + item[1])


def _distractor_place(
    item: tuple[int, int], frame: tuple[int, int], main: PixelBox, rng: np.random.Generator
) -> PixelBox:
    width, height = item
    if rng.uniform() < NEAR_MAIN:
        # Beside the main product, overlapping its side: partly hidden behind it.
        main_w, main_h = main[2] - main[0], main[3] - main[1]
        away = rng.uniform(0.35, 0.75, size=2) * rng.choice([-1, 1], size=2)
        dx, dy = away * np.array([main_w, main_h])
        cx, cy = (main[0] + main[2]) / 2 + dx, (main[1] + main[3]) / 2 + dy
    else:
        cx, cy = rng.uniform(0, frame[0]), rng.uniform(0, frame[1])
    # At most a third of it out of the frame: a product cut in half is no product.
    cx = min(max(cx, width / 6), frame[0] - width / 6)
    cy = min(max(cy, height / 6), frame[1] - height / 6)
    left, top = round(cx - width / 2), round(cy - height / 2)
    return (left, top, left + width, top + height)


def _paste(canvas: Image.Image, item: Image.Image, box: PixelBox, rng: np.random.Generator) -> None:
    """The item pasted at box over a soft shadow of itself, its light a little changed."""
    alpha = item.getchannel("A")
    side = max(item.size)
    blur = max(1.0, side * rng.uniform(0.015, 0.04))
    offset = (rng.uniform(0.01, 0.05, size=2) * side).round().astype(int)
    pad = int(blur * 3)
    shade = Image.new("L", (item.width + 2 * pad, item.height + 2 * pad), 0)
    shade.paste(alpha, (pad, pad))
    opacity = rng.uniform(0.25, 0.5)
    shade = shade.filter(ImageFilter.GaussianBlur(blur)).point(lambda v: int(v * opacity))
    where = (box[0] - pad + int(offset[0]), box[1] - pad + int(offset[1]))
    canvas.paste((0, 0, 0), (*where, where[0] + shade.width, where[1] + shade.height), shade)
    gain = rng.uniform(0.8, 1.05)
    lit = np.clip(np.asarray(item.convert("RGB"), dtype=np.float32) * gain, 0, 255)
    canvas.paste(Image.fromarray(lit.astype(np.uint8)), box[:2], alpha)
