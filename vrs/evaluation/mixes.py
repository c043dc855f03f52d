"""Distortion mixes: which named kinds a query set's photos went through, always applied in one
fixed order (so a mix is a set, and a held-out set is the same pipeline minus a kind)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable

import numpy as np
from PIL import Image

from vrs.evaluation import distortions, warps

Kind = Callable[[Image.Image, np.random.Generator], Image.Image]
Mix = tuple[str, ...]

# The order a camera meets them: the framing, the light on the scene, the lens, then the
# sensor and the encoder. Shop photos are resized to their final size between blur and lowres.
KINDS: dict[str, Kind] = {
    "crop": warps.crop,
    "colour": distortions.colour,
    "tilt": warps.tilt,
    "perspective": warps.perspective,
    "background": warps.background,
    "shadow": distortions.shadow,
    "glare": distortions.glare,
    "vignette": distortions.vignette,
    "blur": distortions.blur,
    "lowres": distortions.lowres,
    "noise": distortions.noise,
    "jpeg": distortions.jpeg,
}
ORDER: Mix = tuple(KINDS)
SENSOR: Mix = ("lowres", "noise", "jpeg")
SHOP_MIX: Mix = ("crop", "colour", "tilt", "perspective", "background", "blur", "jpeg")
SCENE_MIX: Mix = ("colour", "blur", "noise", "jpeg")
# A scene frames its product itself: these would cut it out of the frame or reframe the scene.
SHOP_ONLY = frozenset({"crop", "background"})
_WARPS = {"tilt": warps.tilt_warp, "perspective": warps.perspective_warp}
_UNDISTORTED_QUALITY = 95


def mix_of(names: Iterable[str]) -> Mix:
    """The mix of these kind names, in the fixed order; ValueError names the unknown ones."""
    wanted = {name.strip().lower() for name in names if name.strip()}
    unknown = sorted(wanted - set(KINDS))
    if unknown:
        raise ValueError(
            f"unknown distortion kind{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
            f"(known: {', '.join(ORDER)})"
        )
    return tuple(kind for kind in ORDER if kind in wanted)


def parse_mix(text: str) -> Mix:
    """A comma-separated list of kinds ("none" for no distortion at all) as a mix."""
    return () if text.strip().lower() == "none" else mix_of(text.split(","))


def hold_out(mix: Mix, names: Iterable[str]) -> Mix:
    """`mix` without these kinds; ValueError when one is unknown or not in the mix."""
    removed = mix_of(names)
    absent = [kind for kind in removed if kind not in mix]
    if absent:
        raise ValueError(f"cannot hold out {', '.join(absent)}: not in the mix {describe(mix)}")
    return tuple(kind for kind in mix if kind not in removed)


def check_scene_mix(mix: Mix) -> None:
    """ValueError when the mix holds a kind scenes cannot take."""
    refused = [kind for kind in mix if kind in SHOP_ONLY]
    if refused:
        raise ValueError(
            f"{', '.join(refused)} cannot distort a scene: a scene places its product in the "
            f"frame itself (scene kinds: {', '.join(k for k in ORDER if k not in SHOP_ONLY)})"
        )


def describe(mix: Mix) -> str:
    return ",".join(mix) if mix else "none"


def apply(image: Image.Image, mix: Mix, rng: np.random.Generator) -> Image.Image:
    """The image through the mix's kinds but jpeg, which `encode` does once, when the image is
    written."""
    return _apply(image, None, mix, rng)[0]


def apply_with_mask(
    image: Image.Image, mask: Image.Image, mix: Mix, rng: np.random.Generator
) -> tuple[Image.Image, Image.Image]:
    """`apply`, the kinds that move pixels moving the mask's the same way (scene kinds only)."""
    moved, moved_mask = _apply(image, mask, mix, rng)
    return moved, moved_mask if moved_mask is not None else mask


def _apply(
    image: Image.Image, mask: Image.Image | None, mix: Mix, rng: np.random.Generator
) -> tuple[Image.Image, Image.Image | None]:
    for kind in mix:
        if kind == "jpeg":
            continue
        if mask is not None and kind in _WARPS:
            warp = _WARPS[kind](image.size, rng)
            image, mask = warp.photo(image), warp.mask(mask)
        elif mask is not None and kind in SHOP_ONLY:
            raise ValueError(f"{kind} cannot move a mask")
        else:
            image = KINDS[kind](image, rng)
    return image, mask


def encode(image: Image.Image, mix: Mix, rng: np.random.Generator) -> bytes:
    """JPEG bytes of the image: at a drawn low quality with jpeg in the mix, else near-lossless."""
    quality = distortions.jpeg_quality(rng) if "jpeg" in mix else _UNDISTORTED_QUALITY
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def split_at_sensor(mix: Mix) -> tuple[Mix, Mix]:
    """The mix's kinds before the sensor (framing, light, lens) and from it on."""
    return (
        tuple(k for k in mix if k not in SENSOR),
        tuple(k for k in mix if k in SENSOR),
    )
