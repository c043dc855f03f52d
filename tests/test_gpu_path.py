"""The GPU path's choices, checked on the CPU: device, decoder, batch buckets, geometry."""

from __future__ import annotations

import random
from typing import cast

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from services.embedder.decoding.cpu_decode import CropSpec, Pixels, prepare, with_crop_fraction
from services.embedder.decoding.device_decode import (
    choose_decoder,
    prepare_on_device,
    resize_and_crop,
)
from services.embedder.models.backbones import BACKBONES
from services.embedder.runtimes.choice import max_batch_for, pick_device
from services.embedder.runtimes.cuda_runner import (
    CudaGraphRunner,
    batch_buckets,
    bucket_for,
    padded,
)
from services.embedder.runtimes.engine import InferenceEngine
from tests.support.factories import build_engine
from tests.support.images import encode, every_mode, product_jpeg
from vrs.catalog.sample import draw_product
from vrs.errors import ConfigurationError, InvalidImage
from vrs.settings import ModelSettings

CPU = torch.device("cpu")
CUDA = torch.device("cuda")  # a descriptor only: nothing here allocates on it
INCEPTION_CROP = with_crop_fraction(BACKBONES["inception_v3"].crop, 0.8)
no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without CUDA")


def oriented_jpeg(orientation: int, size: tuple[int, int] = (1800, 1300)) -> bytes:
    """A photo with EXIF orientation `orientation`, asymmetric so a wrong turn shows."""
    image = draw_product("shirt", random.Random(1)).resize(size)
    image.paste((255, 0, 0), (0, 0, size[0] // 4, size[1] // 5))  # a red top-left corner
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(image, "JPEG", quality=90, exif=exif.tobytes())


def mean_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


@pytest.fixture(scope="module")
def eager_engine() -> InferenceEngine:
    return build_engine("efficientnet_lite0", "random", runtime="torch", cpu_precision="fp32")


# Device selection.


@no_cuda
def test_auto_device_is_cpu_without_cuda() -> None:
    assert pick_device(ModelSettings(device="auto")) == CPU


def test_cpu_device_is_cpu() -> None:
    assert pick_device(ModelSettings(device="cpu")) == CPU


@no_cuda
def test_cuda_device_without_cuda_is_refused_in_words() -> None:
    with pytest.raises(ConfigurationError, match="VRS_MODEL_DEVICE=cuda but no CUDA device"):
        pick_device(ModelSettings(device="cuda"))


def test_gpu_passes_take_128_images() -> None:
    assert max_batch_for(CUDA, ModelSettings()) == 128


def test_cpu_passes_take_32_images_when_one_pass_takes_every_core() -> None:
    assert max_batch_for(CPU, ModelSettings()) == 32


def test_cpu_passes_take_8_images_when_streams_run_passes_in_parallel() -> None:
    assert max_batch_for(CPU, ModelSettings(), parallelism=2) == 8


def test_max_batch_setting_wins_on_gpu() -> None:
    assert max_batch_for(CUDA, ModelSettings(max_batch_size=48)) == 48


# Decoder selection.


def test_jpeg_decodes_on_a_cuda_device() -> None:
    assert choose_decoder(product_jpeg(), CUDA) == "device"


def test_jpeg_decodes_on_the_host_for_a_cpu_model() -> None:
    assert choose_decoder(product_jpeg(), CPU) == "cpu"


@pytest.mark.parametrize("kind", ["png", "webp", "garbage", "empty", "jpeg-prefix-only"])
def test_anything_but_jpeg_decodes_on_the_host_even_on_cuda(kind: str) -> None:
    image = draw_product("bag", random.Random(2))
    data = {
        "png": encode(image, "PNG"),
        "webp": every_mode()["webp"],
        "garbage": b"not an image at all",
        "empty": b"",
        "jpeg-prefix-only": b"\xff\xd8",
    }[kind]
    assert choose_decoder(data, CUDA) == "cpu"


# Batch buckets, padding and slicing.


def test_buckets_are_powers_of_two_up_to_128() -> None:
    assert batch_buckets(128) == (1, 2, 4, 8, 16, 32, 64, 128)


def test_a_max_batch_between_powers_is_its_own_last_bucket() -> None:
    assert batch_buckets(48) == (1, 2, 4, 8, 16, 32, 48)


@pytest.mark.parametrize(("size", "bucket"), [(1, 1), (3, 4), (32, 32), (33, 64), (100, 128)])
def test_a_batch_goes_to_the_smallest_bucket_holding_it(size: int, bucket: int) -> None:
    assert bucket_for(size, batch_buckets(128)) == bucket


def test_a_batch_above_the_largest_bucket_is_refused() -> None:
    with pytest.raises(ValueError, match="larger than the largest bucket"):
        bucket_for(129, batch_buckets(128))


def test_padding_appends_zero_rows_and_keeps_the_batch() -> None:
    x = torch.rand(3, 3, 5, 5) + 1
    out = padded(x, 8)
    assert out.shape == (8, 3, 5, 5)
    assert torch.equal(out[:3], x)
    assert not out[3:].any()


class ShapeRecorder(nn.Module):
    """A tiny backbone that remembers the batch sizes it was run on."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.seen: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x.shape[0])
        out: torch.Tensor = self.conv(x)
        return out


def test_the_runner_pads_to_the_bucket() -> None:
    module = ShapeRecorder()
    runner = CudaGraphRunner(module, CPU, 16, torch.float32, compile_graphs=False)
    runner(torch.rand(5, 3, 8, 8))
    runner.close()
    assert module.seen == [8]


def test_the_runner_returns_the_rows_of_the_real_images() -> None:
    torch.manual_seed(0)
    module = ShapeRecorder()
    x = torch.rand(5, 3, 8, 8)
    with torch.inference_mode():
        expected = module.conv(x)
    runner = CudaGraphRunner(module, CPU, 16, torch.float32, compile_graphs=False)
    got = runner(x)
    runner.close()
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, atol=1e-5)


def test_a_runner_without_graphs_says_so_in_its_name() -> None:
    runner = CudaGraphRunner(ShapeRecorder(), CPU, 4, torch.float32, compile_graphs=False)
    runner.close()
    assert runner.name == "torch cpu float32"
    assert not runner.compiled


# Device decoding (torchvision's decoder on the CPU: the same code as on the GPU).


@pytest.mark.parametrize("orientation", range(1, 9))
def test_device_decode_matches_the_host_path(orientation: int) -> None:
    data = oriented_jpeg(orientation)
    host = prepare(data, 10**8, INCEPTION_CROP)
    device = prepare_on_device(data, 10**8, INCEPTION_CROP, CPU)
    assert device is not None
    assert device.dtype == torch.uint8
    assert device.shape == host.shape
    # Pillow decodes at a reduced DCT scale and filters a little differently: a fraction of
    # one level on average. A wrong turn or crop differs by tens.
    assert mean_difference(device.numpy(), host) < 1.0


def test_device_decode_of_efficientnet_geometry_matches_the_host_path() -> None:
    spec = BACKBONES["efficientnet_lite0"].crop  # bicubic, 256 -> 224
    data = oriented_jpeg(1, (640, 900))
    device = prepare_on_device(data, 10**8, spec, CPU)
    assert device is not None
    assert mean_difference(device.numpy(), prepare(data, 10**8, spec)) < 1.0


def test_a_wide_image_is_cropped_from_its_centre() -> None:
    left_red = np.zeros((3, 100, 400), dtype=np.uint8)
    left_red[0, :, :100] = 255  # the left quarter is red: outside a centre crop
    out = resize_and_crop(torch.from_numpy(left_red), CropSpec(50, 50, Image.Resampling.BILINEAR))
    assert out.shape == (50, 50, 3)
    assert int(out[..., 0].max()) == 0


def test_device_decode_refuses_a_bomb_before_decoding() -> None:
    data = oriented_jpeg(1, (1800, 1300))
    with pytest.raises(InvalidImage, match="above the limit"):
        prepare_on_device(data, 1800 * 1300 - 1, INCEPTION_CROP, CPU)


def test_a_cmyk_jpeg_goes_to_the_host_decoder() -> None:
    assert prepare_on_device(every_mode()["cmyk"], 10**8, INCEPTION_CROP, CPU) is None


def test_a_jpeg_the_decoder_rejects_goes_to_the_host_decoder() -> None:
    data = product_jpeg()
    # Header intact, entropy-coded data cut off: the header check passes, the decoder fails.
    assert prepare_on_device(data[: len(data) // 3], 10**8, INCEPTION_CROP, CPU) is None


# The engine takes device-decoded images beside host-decoded ones.


def test_a_batch_mixing_tensors_and_arrays_embeds_like_arrays(
    eager_engine: InferenceEngine,
) -> None:
    spec = eager_engine.crop
    arrays = [prepare(product_jpeg(c, seed=i), 10**8, spec) for i, c in enumerate(["hat", "bag"])]
    # A device-decoded image is a tensor where the pipeline types Pixels (see embedding.py).
    decoded_on_device = cast(Pixels, torch.from_numpy(arrays[0].copy()))
    mixed = eager_engine.embed([decoded_on_device, arrays[1]])
    assert np.allclose(mixed, eager_engine.embed(arrays), atol=1e-4)
