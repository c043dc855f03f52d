"""A huge image costs bounded memory to decode, and that memory goes back to the OS."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from services.embedder.decoding.cpu_decode import CropSpec, decode, prepare, to_pixels
from services.embedder.decoding.large_decodes import LargeDecodeGate
from services.embedder.runtimes.engine import InferenceEngine
from tests.support.big_png import big_rgba_png
from tests.support.images import encode
from tests.support.memory_probe import MemoryReport
from vrs.catalog.sample import draw_product

ROOT = Path(__file__).resolve().parents[1]
MAX_PIXELS = 40_000_000
LIVENESS_S = 10.0


@pytest.fixture(scope="module")
def huge_png_memory() -> MemoryReport:
    """Three 36-megapixel RGBA PNGs embedded at once, in a fresh process (RSS is per process)."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.memory_probe", "--images", "3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return MemoryReport(**json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.slow  # a fresh process loading torch, then 3 x 36 MP
def test_a_36_megapixel_png_raises_peak_memory_by_less_than_300_mb(
    huge_png_memory: MemoryReport,
) -> None:
    if huge_png_memory.peak_mb is None:
        pytest.skip("this platform cannot reset the peak RSS (/proc/self/clear_refs)")
    # Before: ~680 MB per image, ~1.4 GB with both decode threads busy.
    assert huge_png_memory.peak_mb - huge_png_memory.baseline_mb < 300, huge_png_memory


@pytest.mark.slow  # a fresh process loading torch, then 3 x 36 MP
def test_memory_of_huge_decodes_goes_back_to_the_os(huge_png_memory: MemoryReport) -> None:
    # Before: the decode threads' malloc arenas kept ~1.4 GB resident for good.
    assert huge_png_memory.after_mb - huge_png_memory.baseline_mb < 100, huge_png_memory


def test_a_reduced_decode_gives_the_pixels_of_a_full_size_resize(
    effnet_engine: InferenceEngine,
) -> None:
    data = big_rgba_png(3000, 2000)
    spec = effnet_engine.backbone.crop
    reduced = prepare(data, MAX_PIXELS, spec)
    full_size = to_pixels(decode(data, MAX_PIXELS), spec)  # no min_side: no early reduction
    assert np.abs(reduced.astype(int) - full_size.astype(int)).mean() < 1.0
    a, b = effnet_engine.embed([reduced, full_size])
    assert float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))) > 0.999


def _big_in_mode(mode: str) -> bytes:
    """A 2000x1400 photo in `mode`: reduced 2x, in several strips."""
    photo = draw_product("bag", random.Random(3)).resize((2000, 1400))
    if mode == "I;16":
        return encode(Image.fromarray(np.asarray(photo.convert("L"), dtype=np.uint16) * 257))
    if mode == "LA":
        faded = photo.convert("LA")
        faded.putalpha(Image.linear_gradient("L").resize(photo.size))
        return encode(faded)
    if mode == "P":
        return encode(photo.convert("P", palette=Image.Palette.ADAPTIVE), transparency=0)
    return encode(photo.convert(mode), "TIFF")


@pytest.mark.parametrize("mode", ["L", "LA", "P", "CMYK", "I;16", "F", "1"])
def test_a_reduced_decode_matches_a_full_size_one_in_every_mode(mode: str) -> None:
    data = _big_in_mode(mode)
    spec = CropSpec(resize=342, crop=299, resample=Image.Resampling.BILINEAR)
    reduced = prepare(data, MAX_PIXELS, spec)
    full_size = to_pixels(decode(data, MAX_PIXELS), spec)
    # 1-bit images are dithered: box averages and bilinear filtering smooth the dots apart.
    assert np.abs(reduced.astype(int) - full_size.astype(int)).mean() < (
        4.0 if mode == "1" else 1.0
    )


def test_a_reduced_decode_is_still_turned_upright() -> None:
    wide = Image.new("RGB", (3000, 1500), (0, 0, 255))
    wide.paste((255, 0, 0), (0, 0, 1500, 1500))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to view
    image = decode(encode(wide, "PNG", exif=exif), MAX_PIXELS, min_side=342)
    assert image.size == (750, 1500), "reduced 2x, then turned"
    assert image.getpixel((image.width // 2, 10)) == (255, 0, 0), "the left half is now on top"


def test_large_decodes_take_turns() -> None:
    gate = LargeDecodeGate(pixels=100, concurrency=1)
    first_in, release_first, second_in = threading.Event(), threading.Event(), threading.Event()

    def hold(entered: threading.Event, release: threading.Event | None) -> None:
        with gate.admit(101):
            entered.set()
            if release is not None:
                release.wait(LIVENESS_S)

    first = threading.Thread(target=hold, args=(first_in, release_first))
    second = threading.Thread(target=hold, args=(second_in, None))
    first.start()
    assert first_in.wait(LIVENESS_S)
    second.start()
    assert not second_in.wait(0.3), "a second large decode waits while the first holds memory"
    release_first.set()
    assert second_in.wait(LIVENESS_S), "and runs once the first is done"
    first.join(LIVENESS_S)
    second.join(LIVENESS_S)


def test_small_decodes_do_not_wait_for_large_ones() -> None:
    gate = LargeDecodeGate(pixels=100, concurrency=1)
    small_in = threading.Event()

    def small() -> None:
        with gate.admit(100):
            small_in.set()

    with gate.admit(101):
        thread = threading.Thread(target=small)
        thread.start()
        assert small_in.wait(LIVENESS_S)
    thread.join(LIVENESS_S)
