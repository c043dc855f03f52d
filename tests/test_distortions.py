"""Distortion kinds and mixes: each kind changes a photo the same way for the same rng, mixes are
named, checked and held out by name, and the shop photos' default mix is today's, byte for byte."""

from __future__ import annotations

import hashlib
import random
import zlib

import numpy as np
import pytest
from PIL import Image

from vrs.catalog.sample import draw_product
from vrs.evaluation import distortions
from vrs.evaluation.mixes import (
    KINDS,
    ORDER,
    SCENE_MIX,
    SHOP_MIX,
    check_scene_mix,
    hold_out,
    mix_of,
    parse_mix,
)
from vrs.evaluation.queryset import distort

# sha256 of the shop photos below, captured before the kinds were split out of one function:
# the default mix must keep making the very same query sets (under the pinned Pillow/numpy).
SHOP_PHOTOS_SHA256 = "51edfe58c6f4e01bbe27382864c9fad9790198769b67b49a3febdd2ba919830d"


def photo() -> Image.Image:
    return draw_product("shirt", random.Random(4))


def pixels(image: Image.Image) -> bytes:
    return image.convert("RGB").tobytes() + repr(image.size).encode()


@pytest.mark.parametrize("kind", ORDER)
def test_every_kind_changes_the_photo_and_the_same_rng_the_same_way(kind: str) -> None:
    source = photo()
    for seed in (0, 1, 2):
        first = KINDS[kind](source, np.random.default_rng(seed))
        again = KINDS[kind](source, np.random.default_rng(seed))
        assert pixels(first) == pixels(again)
        assert pixels(first) != pixels(source), f"{kind} left the photo as it was (seed {seed})"
    other = KINDS[kind](source, np.random.default_rng(3))
    assert pixels(other) != pixels(KINDS[kind](source, np.random.default_rng(0)))


def test_noise_is_stronger_in_the_dark() -> None:
    def spread(grey: int) -> float:
        flat = Image.new("RGB", (64, 64), (grey, grey, grey))
        noisy = np.asarray(distortions.noise(flat, np.random.default_rng(5)), dtype=np.float32)
        return float(noisy.std())

    assert spread(40) > 1.5 * spread(215)


def test_the_default_shop_mix_makes_todays_shop_photos() -> None:
    digest = hashlib.sha256()
    for n, category in enumerate(("shirt", "shoes", "bag", "hat")):
        drawn = draw_product(category, random.Random(n))
        stream = zlib.crc32(category.encode())
        for k in range(2):
            digest.update(distort(drawn, np.random.default_rng([5, stream, k])))
    assert digest.hexdigest() == SHOP_PHOTOS_SHA256


def test_a_mix_is_applied_in_the_fixed_order_whatever_order_it_is_named_in() -> None:
    assert mix_of(["jpeg", "noise", " Colour", "blur"]) == SCENE_MIX
    assert parse_mix("jpeg,perspective,crop,colour,tilt,background,blur") == SHOP_MIX
    assert parse_mix("none") == ()


def test_unknown_kinds_are_refused_naming_them() -> None:
    with pytest.raises(ValueError, match="unknown distortion kinds fisheye, warp") as refused:
        parse_mix("colour,warp,fisheye")
    assert "known: crop, colour" in str(refused.value)


def test_holding_out_a_kind_removes_exactly_that_kind() -> None:
    held = hold_out(SHOP_MIX, ["perspective"])
    assert held == ("crop", "colour", "tilt", "background", "blur", "jpeg")
    two = hold_out(SHOP_MIX, ["tilt", "blur"])
    assert two == ("crop", "colour", "perspective", "background", "jpeg")
    with pytest.raises(ValueError, match="cannot hold out glare: not in the mix"):
        hold_out(SHOP_MIX, ["glare"])
    with pytest.raises(ValueError, match="unknown distortion kind sepia"):
        hold_out(SHOP_MIX, ["sepia"])


def test_a_held_out_mix_makes_other_photos_than_the_whole_mix() -> None:
    source = photo()
    whole = distort(source, np.random.default_rng(1))
    held = distort(source, np.random.default_rng(1), hold_out(SHOP_MIX, ["perspective"]))
    assert whole != held


def test_scenes_refuse_the_kinds_that_reframe_a_photo() -> None:
    check_scene_mix((*SCENE_MIX, "tilt", "perspective", "shadow", "glare", "vignette", "lowres"))
    with pytest.raises(ValueError, match="crop, background cannot distort a scene"):
        check_scene_mix(("crop", "colour", "background"))
