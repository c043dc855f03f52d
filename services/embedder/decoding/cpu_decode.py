"""Image bytes to the backbone's input: decoded, upright, RGB, resized and centre-cropped.

Memory: the full-size image lives only until it is shrunk. JPEGs decode at a reduced scale
(libjpeg's DCT scaling); other formats decode at full size, then are converted and reduced
strip by strip, and the full-size image is freed at once. Conversions of a full-size image
(RGBA -> RGB on white and the like) would each cost another full-size copy.

Speed: decoding shares the CPU with the model, so each image is resampled once, and only the
region the centre crop keeps (benchmarks/decode_speed.py measures it against plain Pillow).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from PIL import ExifTags, Image, JpegImagePlugin, UnidentifiedImageError

from services.embedder.decoding.large_decodes import LargeDecodeGate
from vrs.errors import InvalidImage

Pixels = npt.NDArray[np.uint8]  # H x W x 3

# The early reduction leaves at least this factor to the final resample: reduce() averages
# boxes, the resample then filters what is left (what resize's reducing_gap does too).
REDUCING_GAP = 2
# Pixels converted at a time when shrinking: strips stay a few MB whatever the image size.
STRIP_PIXELS = 1_000_000

_ALPHA_MODES = ("RGBA", "LA", "PA", "La", "RGBa")
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True)
class CropSpec:
    """Resize the shorter side to `resize`, then centre-crop `crop` x `crop`."""

    resize: int
    crop: int
    resample: Image.Resampling


def open_image(data: bytes, max_pixels: int, min_side: int | None = None) -> Image.Image:
    """The image with its header read, at the scale it will decode at (pixels not loaded yet);
    InvalidImage naming the problem for anything that is not a usable image.

    With `min_side`, a JPEG decodes at a reduced scale whose shorter side is still at least
    that long (libjpeg's DCT scaling: far less memory and time for large photos).
    """
    if not data:
        raise InvalidImage("image is empty (0 bytes)")
    try:
        image: Image.Image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError as exc:
        raise InvalidImage("bytes are not an image in a known format") from exc
    except Image.DecompressionBombError as exc:
        raise InvalidImage(f"image is a decompression bomb: {exc}") from exc
    except Exception as exc:  # a broken header can make any parser fail any way
        raise _corrupt(exc) from exc
    width, height = image.size
    if width * height > max_pixels:
        raise InvalidImage(
            f"image is {width}x{height} = {width * height} pixels, above the limit of "
            f"{max_pixels} (decompression bomb guard)"
        )
    if width == 0 or height == 0:
        raise InvalidImage(f"image has no pixels ({width}x{height})")
    try:
        image.seek(0)  # animated images: the first frame
        # MPO (phone photos with a depth map or a second view) is a JPEG to libjpeg as well.
        if min_side and isinstance(image, JpegImagePlugin.JpegImageFile):
            image.draft("RGB", (min_side, min_side))
    except Exception as exc:
        raise _corrupt(exc) from exc
    return image


def load_rgb(image: Image.Image, min_side: int | None = None) -> Image.Image:
    """The opened image decoded, upright and RGB; with `min_side`, reduced by an integer
    factor that keeps its shorter side at least REDUCING_GAP x min_side. Closes `image`
    unless it is returned as it is (already RGB at its final size)."""
    rgb: Image.Image | None = None
    try:
        try:
            image.load()
            orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
        except Exception as exc:
            raise _corrupt(exc) from exc
        rgb = _shrunk_rgb(image, _reduce_factor(image.size, min_side))
    finally:
        if rgb is not image:
            image.close()  # frees the full-size pixels now, not whenever the GC gets to them
    method = _TRANSPOSE.get(orientation)
    return rgb.transpose(method) if method is not None else rgb


def decode(data: bytes, max_pixels: int, min_side: int | None = None) -> Image.Image:
    """An RGB image; InvalidImage naming the problem for anything else."""
    return load_rgb(open_image(data, max_pixels, min_side), min_side)


def _corrupt(exc: BaseException) -> InvalidImage:
    return InvalidImage(f"image data is corrupt or truncated: {type(exc).__name__}: {exc}")


def _reduce_factor(size: tuple[int, int], min_side: int | None) -> int:
    if not min_side:
        return 1
    return max(1, min(size) // (min_side * REDUCING_GAP))


def _shrunk_rgb(image: Image.Image, factor: int) -> Image.Image:
    """RGB, reduced `factor` times, converting a strip at a time: compositing on white and
    scaling bit depth are per-pixel and reduce() averages, so strips give the same result as
    converting the whole image first, without its full-size copies."""
    scale = _depth_scale(image)
    width, height = image.size
    rows = factor * max(1, STRIP_PIXELS // (width * factor))
    if rows >= height:
        rgb = _to_rgb(image, scale)
        return rgb.reduce(factor) if factor > 1 else rgb
    out = Image.new("RGB", (-(-width // factor), -(-height // factor)))
    for top in range(0, height, rows):
        strip = _to_rgb(image.crop((0, top, width, min(height, top + rows))), scale)
        out.paste(strip.reduce(factor) if factor > 1 else strip, (0, top // factor))
    return out


def _depth_scale(image: Image.Image) -> float:
    """16-bit and float images: the factor to 8 bits, from the whole image's maximum."""
    if not (image.mode.startswith("I;16") or image.mode in ("I", "F")):
        return 1.0
    extrema = image.getextrema()
    top = float(extrema[1]) if isinstance(extrema[1], int | float) else 0.0
    return 255.0 / 65535.0 if top > 255.0 else 1.0


def _to_rgb(image: Image.Image, depth_scale: float) -> Image.Image:
    """`image` itself when it is RGB (most JPEGs): convert() would copy it for nothing."""
    mode = image.mode
    if mode == "RGB":
        return image
    try:
        if mode.startswith("I;16") or mode in ("I", "F"):
            # Scale to 8 bits rather than clip (convert("L") clips).
            values = np.asarray(image, dtype=np.float32) * depth_scale
            return Image.fromarray(np.clip(values, 0, 255).astype(np.uint8), mode="L").convert(
                "RGB"
            )
        if mode in _ALPHA_MODES or (mode == "P" and "transparency" in image.info):
            # Product photos with transparency sit on white in every storefront. Pasting with
            # the alpha as mask blends like alpha_composite onto opaque white, in fewer copies.
            rgba = image if mode == "RGBA" else image.convert("RGBA")
            white = Image.new("RGB", rgba.size, (255, 255, 255))
            white.paste(rgba.convert("RGB"), mask=rgba.getchannel("A"))
            return white
        return image.convert("RGB")
    except (ValueError, OSError) as exc:  # modes Pillow cannot convert (LAB, ...)
        raise InvalidImage(f"image mode {mode} cannot be converted to RGB: {exc}") from exc


def with_crop_fraction(spec: CropSpec, fraction: float | None) -> CropSpec:
    """`spec` whose centre crop keeps `fraction` of the resized shorter side (the crop size
    stays, the resize grows: a tighter crop); None: `spec` itself."""
    if fraction is None:
        return spec
    return replace(spec, resize=max(spec.crop, round(spec.crop / fraction)))


def to_pixels(image: Image.Image, spec: CropSpec) -> Pixels:
    """The centre crop of `image` resized to `spec`, as pixels."""
    return np.asarray(
        image.resize(
            (spec.crop, spec.crop), spec.resample, box=crop_box(image.size, spec), reducing_gap=3.0
        ),
        dtype=np.uint8,
    )


def crop_box(size: tuple[int, int], spec: CropSpec) -> tuple[float, float, float, float]:
    """The region of an image of `size` that resize-then-centre-crop would keep, in its own
    pixels: resampling only that region (Pillow's filters still read the pixels around it)
    gives the same crop without resizing the parts thrown away."""
    width, height = size
    scale = spec.resize / min(width, height)
    resized = (max(spec.crop, round(width * scale)), max(spec.crop, round(height * scale)))
    left = (resized[0] - spec.crop) // 2
    top = (resized[1] - spec.crop) // 2
    x = width / resized[0]
    y = height / resized[1]
    return (left * x, top * y, (left + spec.crop) * x, (top + spec.crop) * y)


def prepare(
    data: bytes, max_pixels: int, spec: CropSpec, gate: LargeDecodeGate | None = None
) -> Pixels:
    """decode + to_pixels; runs in the decode pool. With a gate, a large decode waits for a
    slot before it loads any pixels."""
    image = open_image(data, max_pixels, spec.resize)
    if gate is None:
        return to_pixels(load_rgb(image, spec.resize), spec)
    with gate.admit(image.width * image.height):
        rgb = load_rgb(image, spec.resize)
        pixels = to_pixels(rgb, spec)
        rgb.close()  # before the gate hands freed memory back
    return pixels
