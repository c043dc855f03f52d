"""Photo-sized JPEGs take the fast path (DCT-scaled decode, only the crop resampled) and still
give the pixels of a full-size decode, in every JPEG flavour; broken ones are still refused."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from services.embedder.decoding.cpu_decode import CropSpec, decode, open_image, prepare, to_pixels
from services.embedder.runtimes.engine import InferenceEngine
from tests.support.images import encode
from tests.support.photos import mpo, photo_jpeg
from vrs.errors import InvalidImage

MAX_PIXELS = 40_000_000
INCEPTION = CropSpec(resize=342, crop=299, resample=Image.Resampling.BILINEAR)
# efficientnet_lite0 with the default features' crop0.8: resize 280, crop 224.
EFFNET = CropSpec(resize=280, crop=224, resample=Image.Resampling.BICUBIC)


def _mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(int) - b.astype(int)).mean())


def _full_size(data: bytes, spec: CropSpec) -> np.ndarray:
    """The reference: decoded at full size (no DCT scaling), resized, centre-cropped."""
    return to_pixels(decode(data, MAX_PIXELS), spec)


def _resize_then_crop(image: Image.Image, spec: CropSpec) -> np.ndarray:
    width, height = image.size
    scale = spec.resize / min(width, height)
    size = (max(spec.crop, round(width * scale)), max(spec.crop, round(height * scale)))
    left = (size[0] - spec.crop) // 2
    top = (size[1] - spec.crop) // 2
    resized = image.resize(size, spec.resample)
    return np.asarray(resized.crop((left, top, left + spec.crop, top + spec.crop)))


@pytest.mark.parametrize(
    ("size", "progressive", "decoded"),
    [
        ((2000, 1500), False, (500, 375)),
        ((1500, 2000), True, (375, 500)),
        ((4000, 3000), False, (500, 375)),
    ],
    ids=["camera", "progressive-portrait", "12-megapixel"],
)
def test_a_large_jpeg_decodes_at_the_smallest_scale_that_still_covers_the_resize(
    size: tuple[int, int], progressive: bool, decoded: tuple[int, int]
) -> None:
    image = open_image(photo_jpeg(*size, progressive=progressive), MAX_PIXELS, INCEPTION.resize)
    assert image.size == decoded


@pytest.mark.parametrize("spec", [INCEPTION, EFFNET], ids=["inception_v3", "efficientnet_lite0"])
@pytest.mark.parametrize(
    ("size", "progressive"),
    [((2000, 1500), False), ((1500, 2000), True), ((640, 640), False)],
    ids=["camera", "progressive-portrait", "phone-640"],
)
def test_a_scaled_jpeg_decode_gives_the_pixels_of_a_full_size_one(
    spec: CropSpec, size: tuple[int, int], progressive: bool
) -> None:
    data = photo_jpeg(*size, seed=2, progressive=progressive)
    assert _mean_abs_diff(prepare(data, MAX_PIXELS, spec), _full_size(data, spec)) < 1.0


def test_a_scaled_jpeg_decode_gives_the_vector_of_a_full_size_one(
    effnet_engine: InferenceEngine,
) -> None:
    data = photo_jpeg(2000, 1500, seed=4)
    spec = effnet_engine.crop
    fast, full = effnet_engine.embed([prepare(data, MAX_PIXELS, spec), _full_size(data, spec)])
    assert float(fast @ full / (np.linalg.norm(fast) * np.linalg.norm(full))) > 0.995


@pytest.mark.parametrize("spec", [INCEPTION, EFFNET], ids=["inception_v3", "efficientnet_lite0"])
@pytest.mark.parametrize("size", [(900, 300), (300, 900), (225, 225), (641, 479)], ids=str)
def test_resampling_only_the_crop_matches_resizing_all_then_cropping(
    spec: CropSpec, size: tuple[int, int]
) -> None:
    image = Image.open(io.BytesIO(photo_jpeg(*size, seed=5))).convert("RGB")
    # Rounding apart (a unit or two here and there), the same pixels: the photo's grain makes
    # a crop shifted by even one pixel differ by far more.
    difference = np.abs(to_pixels(image, spec).astype(int) - _resize_then_crop(image, spec))
    assert difference.max() <= 2


def test_a_large_cmyk_jpeg_is_scaled_and_keeps_its_colours() -> None:
    red = Image.new("RGB", (2000, 1500), (220, 30, 30)).convert("CMYK")
    data = encode(red, "JPEG", quality=95)
    assert open_image(data, MAX_PIXELS, INCEPTION.resize).size == (500, 375)
    pixel = prepare(data, MAX_PIXELS, INCEPTION)[150, 150]
    assert np.abs(pixel.astype(int) - (220, 30, 30)).max() < 12


def test_an_mpo_phone_photo_is_scaled_like_a_jpeg() -> None:
    first = Image.new("RGB", (2000, 1500), (20, 160, 40))
    second = Image.new("RGB", (2000, 1500), (200, 0, 200))
    data = mpo(first, second)
    assert open_image(data, MAX_PIXELS, INCEPTION.resize).size == (500, 375)


def test_an_mpo_embeds_its_first_picture() -> None:
    first = Image.new("RGB", (2000, 1500), (20, 160, 40))
    second = Image.new("RGB", (2000, 1500), (200, 0, 200))
    pixel = prepare(mpo(first, second), MAX_PIXELS, INCEPTION)[150, 150]
    assert np.abs(pixel.astype(int) - (20, 160, 40)).max() < 12


def test_a_scaled_jpeg_is_still_turned_upright() -> None:
    wide = Image.new("RGB", (2000, 1500), (0, 0, 255))
    wide.paste((255, 0, 0), (0, 0, 1000, 1500))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to view
    pixels = prepare(encode(wide, "JPEG", quality=95, exif=exif), MAX_PIXELS, INCEPTION)
    assert pixels[5, 150, 0] > 200, "the left half is now on top"
    assert pixels[-5, 150, 2] > 200, "and the right half at the bottom"


def test_a_large_jpeg_cut_off_mid_scan_is_refused() -> None:
    data = photo_jpeg(2000, 1500, seed=6)
    with pytest.raises(InvalidImage, match="corrupt or truncated"):
        prepare(data[: len(data) // 2], MAX_PIXELS, INCEPTION)
