"""Scene queries: a product is cut out of its studio photo and placed small and off-centre in a
cluttered scene, other products behind it, and the box recorded is where it really is."""

from __future__ import annotations

import io
import random

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageDraw

from vrs.catalog.sample import draw_product
from vrs.evaluation.cutouts import Cutout, cut_out
from vrs.evaluation.mixes import Mix
from vrs.evaluation.scenes import OFF_CENTRE, compose, scene_shot

Colour = tuple[int, int, int]


def item_photo(colour: Colour, scale: float = 1.0) -> Image.Image:
    """A studio photo: a product of one colour (a shirt-like polygon) on white."""
    image = Image.new("RGB", (200, 200), (250, 250, 250))
    points = [(40, 50), (80, 30), (120, 30), (160, 50), (150, 90), (135, 80), (135, 170)]
    points += [(65, 170), (65, 80), (50, 90)]
    centre = 100
    scaled = [(centre + (x - centre) * scale, centre + (y - centre) * scale) for x, y in points]
    ImageDraw.Draw(image).polygon(scaled, fill=colour)
    return image


def distractors() -> list[Cutout]:
    return [cut_out(draw_product(c, random.Random(n))) for n, c in enumerate(("shoes", "hat"))]


def decoded(data: bytes) -> npt.NDArray[np.int16]:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        return np.asarray(image.convert("RGB"), dtype=np.int16)


def test_the_cut_out_is_the_product_without_its_white_background() -> None:
    photo = draw_product("shirt", random.Random(3))
    cutout = cut_out(photo)
    assert not cutout.whole and cutout.image.mode == "RGBA"
    alpha = np.asarray(cutout.image.getchannel("A"))
    # The shirt's bounding box in the drawn photo: what is not its light background colour.
    pixels = np.asarray(photo, dtype=np.int16)
    product = np.abs(pixels - pixels[0, 0]).max(axis=2) > 40
    rows, cols = np.nonzero(product)
    assert abs(alpha.shape[0] - (rows.max() - rows.min() + 1)) <= 4
    assert abs(alpha.shape[1] - (cols.max() - cols.min() + 1)) <= 4
    assert alpha[alpha.shape[0] // 2, alpha.shape[1] // 2] == 255
    # Outside the sleeves, above them: the old background, now transparent.
    assert alpha[0, 0] == 0 and alpha[0, -1] == 0


def test_a_white_item_keeps_its_shading_apart_from_white_paper() -> None:
    cutout = cut_out(item_photo((222, 222, 222)))
    assert not cutout.whole
    assert np.asarray(cutout.image.getchannel("A")).mean() > 150


def test_a_photo_the_product_fills_is_used_whole() -> None:
    noise = np.random.default_rng(1).integers(0, 256, size=(120, 160, 3), dtype=np.uint8)
    cutout = cut_out(Image.fromarray(noise))
    assert cutout.whole and cutout.image.size == (160, 120)
    assert np.asarray(cutout.image.getchannel("A")).min() == 255


def test_a_product_too_small_to_be_one_is_used_whole() -> None:
    cutout = cut_out(item_photo((200, 30, 30), scale=0.15))
    assert cutout.whole and cutout.image.size == (200, 200)


def test_scenes_are_the_same_for_the_same_seed() -> None:
    main = cut_out(item_photo((200, 30, 30)))
    first = scene_shot(main, distractors(), np.random.default_rng([4, 1]))
    assert first == scene_shot(main, distractors(), np.random.default_rng([4, 1]))
    assert first.data != scene_shot(main, distractors(), np.random.default_rng([4, 2])).data


@pytest.mark.parametrize(
    "mix",
    [(), ("colour", "noise", "jpeg"), ("tilt", "perspective", "shadow", "jpeg")],
    ids=["undistorted", "scene-default-like", "tilted"],
)
def test_the_box_is_where_the_product_is(mix: Mix) -> None:
    # The same scene twice, the product magenta then cyan: the pixels that differ are its own.
    others = distractors()
    shots = [
        scene_shot(cut_out(item_photo(colour)), others, np.random.default_rng(9), mix)
        for colour in ((255, 0, 255), (0, 255, 255))
    ]
    assert shots[0].box == shots[1].box
    first, second = decoded(shots[0].data), decoded(shots[1].data)
    rows, cols = np.nonzero(np.abs(first - second).max(axis=2) > 60)
    height, width = first.shape[:2]
    x, y, w, h = shots[0].box
    left, top = cols.min() / width, rows.min() / height
    right, bottom = (cols.max() + 1) / width, (rows.max() + 1) / height
    slack = 0.02  # JPEG spreads a colour change over its 8x8 blocks
    assert left == pytest.approx(x, abs=slack) and top == pytest.approx(y, abs=slack)
    assert right == pytest.approx(x + w, abs=slack) and bottom == pytest.approx(y + h, abs=slack)


@pytest.mark.parametrize("seed", range(8))
def test_the_product_is_off_centre_inside_the_frame_and_the_largest(seed: int) -> None:
    main = cut_out(item_photo((200, 30, 30)))
    layout = compose(main, distractors(), np.random.default_rng(seed))
    width, height = layout.image.size
    assert sorted((width, height)) == [480, 640]
    left, top, right, bottom = layout.main
    assert min(left, top) >= 0 and right <= width and bottom <= height
    centre_x, centre_y = (left + right) / 2 / width, (top + bottom) / 2 / height
    assert max(abs(centre_x - 0.5), abs(centre_y - 0.5)) >= OFF_CENTRE - 0.005
    longer = max(right - left, bottom - top)
    assert 0.34 * min(width, height) <= longer <= 0.61 * min(width, height)
    assert len(layout.distractors) == 2
    for d_left, d_top, d_right, d_bottom in layout.distractors:
        assert max(d_right - d_left, d_bottom - d_top) < longer


def test_scenes_refuse_a_mix_that_would_reframe_them() -> None:
    main = cut_out(item_photo((200, 30, 30)))
    with pytest.raises(ValueError, match="crop cannot distort a scene"):
        scene_shot(main, [], np.random.default_rng(1), ("crop", "jpeg"))
