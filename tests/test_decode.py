"""Every colour mode embeds; every kind of bad image is refused with a reason."""

from __future__ import annotations

import pytest
from PIL import Image

from services.embedder.decoding.cpu_decode import CropSpec, decode, prepare
from tests.support.images import decompression_bomb, encode, every_mode, product_jpeg
from vrs.errors import InvalidImage

SPEC = CropSpec(resize=256, crop=224, resample=Image.Resampling.BICUBIC)
MAX_PIXELS = 40_000_000


@pytest.mark.parametrize("mode", sorted(every_mode()))
def test_awkward_modes_become_rgb_crops(mode: str) -> None:
    pixels = prepare(every_mode()[mode], MAX_PIXELS, SPEC)
    assert pixels.shape == (224, 224, 3)
    assert pixels.dtype.name == "uint8"
    assert pixels.std() > 5, "the image content survived conversion"


def test_alpha_is_composited_on_white() -> None:
    clear = Image.new("RGBA", (50, 50), (255, 0, 0, 0))
    assert decode(encode(clear), MAX_PIXELS).getpixel((10, 10)) == (255, 255, 255)


def test_sixteen_bit_is_scaled_not_clipped() -> None:
    mid = Image.new("I;16", (40, 40), 32768)
    value = decode(encode(mid), MAX_PIXELS).getpixel((5, 5))
    assert isinstance(value, tuple)
    assert 120 < value[0] < 135


def test_non_square_images_are_centre_cropped() -> None:
    wide = Image.new("RGB", (900, 300), (0, 0, 255))
    wide.paste((255, 0, 0), (0, 0, 150, 300))  # red edge falls outside the centre crop
    pixels = prepare(encode(wide), MAX_PIXELS, SPEC)
    assert pixels.shape == (224, 224, 3)
    assert pixels[:, :, 0].max() < 10


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"this is not an image at all", "not an image"),
        (product_jpeg()[:400], "corrupt or truncated"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "not an image"),
    ],
    ids=["empty", "text", "truncated-jpeg", "broken-png"],
)
def test_bad_bytes_are_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidImage, match=reason):
        prepare(data, MAX_PIXELS, SPEC)


def test_decompression_bomb_is_refused_before_decoding() -> None:
    bomb = decompression_bomb()
    assert len(bomb) < 100_000
    with pytest.raises(InvalidImage, match="decompression bomb"):
        prepare(bomb, MAX_PIXELS, SPEC)
