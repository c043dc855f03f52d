"""JPEG bytes to the backbone's input on the GPU: nvJPEG decoding, then resize and crop there.

The geometry is decode.prepare's: upright (EXIF orientation), shorter side resized to
`spec.resize` with antialiasing, centre crop of `spec.crop`. The max_pixels guard reads the
JPEG header (Pillow, no pixels decoded) before anything reaches the GPU. nvJPEG has no DCT
scaling: the image decodes at full size on the device, so a large one is first reduced by an
integer factor (box average, a strip at a time, as decode.py does) before the resize.
Anything the device does not take (other formats, CMYK JPEGs, a JPEG nvJPEG rejects) goes to
decode.prepare on the CPU, which also names what is wrong with a broken image.
"""

from __future__ import annotations

import logging
from typing import Literal

import torch
import torch.nn.functional as F
import torchvision.io
from PIL import ExifTags, Image

from services.embedder.decoding.cpu_decode import REDUCING_GAP, STRIP_PIXELS, CropSpec, open_image
from services.embedder.decoding.large_decodes import LargeDecodeGate

log = logging.getLogger(__name__)

Decoder = Literal["device", "cpu"]

# Every JPEG (JFIF, EXIF, raw, MPO) starts with SOI and the next marker's 0xFF.
JPEG_MAGIC = b"\xff\xd8\xff"
# Colour modes nvJPEG decodes to RGB; CMYK and YCCK JPEGs stay on Pillow.
_DEVICE_MODES = ("RGB", "L")
_INTERPOLATION = {
    Image.Resampling.NEAREST: "nearest",
    Image.Resampling.BILINEAR: "bilinear",
    Image.Resampling.BICUBIC: "bicubic",
}


def choose_decoder(data: bytes, device: torch.device) -> Decoder:
    """ "device" for a JPEG when the model runs on CUDA; "cpu" (Pillow) for anything else."""
    if device.type == "cuda" and data.startswith(JPEG_MAGIC):
        return "device"
    return "cpu"


def prepare_on_device(
    data: bytes,
    max_pixels: int,
    spec: CropSpec,
    device: torch.device,
    gate: LargeDecodeGate | None = None,
) -> torch.Tensor | None:
    """A JPEG as the backbone's input, `spec.crop` x `spec.crop` x 3 uint8 on `device`; None
    when the device cannot decode it (decode it on the CPU instead). InvalidImage when the
    header says it is too large or not an image, before any pixel is decoded."""
    header = _header(data, max_pixels)
    if header is None:
        return None
    width, height, orientation = header
    if gate is None:
        return _decode_and_crop(data, spec, device, orientation)
    with gate.admit(width * height):
        return _decode_and_crop(data, spec, device, orientation)


def _header(data: bytes, max_pixels: int) -> tuple[int, int, int] | None:
    image = open_image(data, max_pixels)  # InvalidImage for bombs and broken headers
    try:
        if image.format not in ("JPEG", "MPO") or image.mode not in _DEVICE_MODES:
            return None
        orientation = int(image.getexif().get(ExifTags.Base.Orientation, 1))
    except Exception:  # an EXIF block Pillow cannot parse: Pillow's own path decides
        return None
    finally:
        image.close()
    return image.width, image.height, orientation


def _decode_and_crop(
    data: bytes, spec: CropSpec, device: torch.device, orientation: int
) -> torch.Tensor | None:
    decoded = decode_jpegs([data], device)[0]
    if decoded is None:
        return None
    return resize_and_crop(oriented(decoded, orientation), spec)


def decode_jpegs(items: list[bytes], device: torch.device) -> list[torch.Tensor | None]:
    """Each JPEG as 3 x H x W uint8 RGB on `device`, decoded in one batched call (nvJPEG on a
    GPU); None for one the decoder rejects. A batch with one bad image fails whole, so then
    each image is decoded alone."""
    encoded = [torch.frombuffer(bytearray(data), dtype=torch.uint8) for data in items]
    try:
        return list(_decode(encoded, device))
    except RuntimeError as exc:
        if len(items) == 1:
            log.debug("device JPEG decoder rejected an image: %s", exc)
            return [None]
    return [decode_jpegs([data], device)[0] for data in items]


def _decode(encoded: list[torch.Tensor], device: torch.device) -> list[torch.Tensor]:
    decoded = torchvision.io.decode_jpeg(
        encoded, mode=torchvision.io.ImageReadMode.RGB, device=device
    )
    return decoded if isinstance(decoded, list) else [decoded]


def oriented(image: torch.Tensor, orientation: int) -> torch.Tensor:
    """`image` (C x H x W) turned upright per its EXIF orientation (1-8), as Pillow's
    transposes in decode.py do."""
    if orientation == 2:
        return image.flip(-1)
    if orientation == 3:
        return image.flip(-1, -2)
    if orientation == 4:
        return image.flip(-2)
    if orientation == 5:
        return image.transpose(-1, -2)
    if orientation == 6:
        return torch.rot90(image, -1, (-2, -1))
    if orientation == 7:
        return image.transpose(-1, -2).flip(-1, -2)
    if orientation == 8:
        return torch.rot90(image, 1, (-2, -1))
    return image


def resize_and_crop(image: torch.Tensor, spec: CropSpec) -> torch.Tensor:
    """`image` (3 x H x W uint8, any device) reduced, resized so its shorter side is
    `spec.resize` (antialiased) and centre-cropped: `spec.crop` x `spec.crop` x 3 uint8."""
    x = _reduced(image, _reduce_factor(image.shape[-1], image.shape[-2], spec.resize))
    height, width = x.shape[-2:]
    scale = spec.resize / min(width, height)
    resized_w = max(spec.crop, round(width * scale))
    resized_h = max(spec.crop, round(height * scale))
    mode = _INTERPOLATION.get(spec.resample, "bicubic")
    if mode == "nearest":
        resized = F.interpolate(x, size=(resized_h, resized_w), mode=mode)
    else:
        resized = F.interpolate(
            x, size=(resized_h, resized_w), mode=mode, align_corners=False, antialias=True
        )
    left = (resized_w - spec.crop) // 2
    top = (resized_h - spec.crop) // 2
    crop = resized[0, :, top : top + spec.crop, left : left + spec.crop]
    return crop.round_().clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).contiguous()


def _reduce_factor(width: int, height: int, resize: int) -> int:
    return max(1, min(width, height) // (resize * REDUCING_GAP))


def _reduced(image: torch.Tensor, factor: int) -> torch.Tensor:
    """1 x 3 x h x w float32, box-averaged `factor` times; a strip of rows at a time, so the
    float copy of a full-size photo never exists at once."""
    x = image.unsqueeze(0)
    if factor == 1:
        return x.float()
    height, width = x.shape[-2:]
    rows = factor * max(1, STRIP_PIXELS // (width * factor))
    strips = [
        F.avg_pool2d(x[..., top : top + rows, :].float(), factor, ceil_mode=True)
        for top in range(0, height, rows)
    ]
    return torch.cat(strips, dim=-2)
