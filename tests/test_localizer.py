"""Finding the main item in a feature map: its strongest blob of the shop's classes, grown into
the region searched, unless the photo's usual framing already holds it."""

from __future__ import annotations

from dataclasses import astuple

import pytest
import torch
from PIL import Image

from services.embedder.decoding.cpu_decode import CropSpec
from services.embedder.models.localizer import Localizer, Located, frames_the_item, grown
from vrs.images.region import Region

SPEC = CropSpec(256, 224, Image.Resampling.BILINEAR)


def feature_map(hot: dict[tuple[int, int], float], side: int = 7) -> torch.Tensor:
    """Two channels: the first lit at the `hot` places, the second noise the classes ignore."""
    fmap = torch.zeros(2, side, side)
    for (row, col), value in hot.items():
        fmap[0, row, col] = value
    fmap[1] = torch.rand(side, side)
    return fmap


def localizer() -> Localizer:
    return Localizer(torch.tensor([[1.0, 0.0]]))


def test_the_blob_seen_is_the_strongest_one() -> None:
    hot = {(1, 1): 5.0, (1, 2): 5.0, (5, 5): 4.0}
    found = localizer().locate(feature_map(hot))
    assert found.seen == Region(1 / 7, 1 / 7, 2 / 7, 1 / 7)


def test_a_blob_of_more_places_outweighs_a_brighter_single_place() -> None:
    hot = {(5, 1): 6.0, (1, 4): 5.0, (1, 5): 5.0, (2, 4): 5.0, (2, 5): 5.0}
    assert localizer().locate(feature_map(hot)).seen == Region(4 / 7, 1 / 7, 2 / 7, 2 / 7)


def test_a_flat_map_is_the_whole_frame() -> None:
    found = localizer().locate(torch.ones(2, 7, 7))
    assert found.seen == Region(0.0, 0.0, 1.0, 1.0)


@pytest.mark.parametrize(
    ("box", "factor", "min_side", "expected"),
    [
        (Region(0.4, 0.4, 0.2, 0.2), 1.5, 0.0, Region(0.35, 0.35, 0.3, 0.3)),
        (Region(0.45, 0.45, 0.1, 0.1), 1.5, 0.4, Region(0.3, 0.3, 0.4, 0.4)),
        (Region(0.0, 0.0, 0.2, 0.2), 2.0, 0.0, Region(0.0, 0.0, 0.3, 0.3)),
        (Region(0.8, 0.7, 0.2, 0.3), 2.0, 0.0, Region(0.7, 0.55, 0.3, 0.45)),
    ],
    ids=["grows-about-its-centre", "at-least-min-side", "clipped-top-left", "clipped-bottom-right"],
)
def test_grown_regions(box: Region, factor: float, min_side: float, expected: Region) -> None:
    result = grown(box, factor, min_side)
    assert astuple(result) == pytest.approx(astuple(expected))


@pytest.mark.parametrize(
    ("seen", "region", "size", "framed"),
    [
        (Region(0.2, 0.2, 0.6, 0.6), Region(0.1, 0.1, 0.8, 0.8), (400, 400), True),
        (Region(0.0, 0.2, 0.6, 0.6), Region(0.0, 0.1, 0.8, 0.8), (400, 400), False),
        (Region(0.4, 0.4, 0.15, 0.15), Region(0.3, 0.3, 0.4, 0.4), (400, 400), False),
        (Region(0.05, 0.3, 0.3, 0.4), Region(0.0, 0.2, 0.5, 0.6), (800, 400), False),
        (Region(0.3, 0.3, 0.4, 0.4), Region(0.2, 0.2, 0.6, 0.6), (800, 400), True),
    ],
    ids=["fills-the-centre", "touches-the-edge", "small", "outside-a-wide-crop", "wide-centre"],
)
def test_a_photo_frames_the_item_when_it_lies_in_the_centre_crop_and_fills_it(
    seen: Region, region: Region, size: tuple[int, int], framed: bool
) -> None:
    assert frames_the_item(Located(seen, region), size, SPEC) is framed
