"""A backbone's feature maps to descriptors, as the features variant says (scales, mirror
image, catalog blur, pooling, normalisation), whatever runtime computes the maps."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torchvision.transforms.functional import gaussian_blur

from services.embedder.models.features import Features
from services.embedder.models.pooling import l2_normalize, pool

# The catalog blur's sigma is given for this input side and scales with the backbone's.
BLUR_REFERENCE_SIDE = 224


def describe(
    runner: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    features: Features,
    *,
    catalog: bool = False,
) -> torch.Tensor:
    """Normalised input (N x 3 x H x W) to N descriptors: the feature map of each scale (and
    its mirror image; for catalog photos, its blurred copy too) pooled in fp32, averaged, then
    normalised as the variant says."""
    inputs = [x]
    if catalog and features.catalog_blur is not None:
        inputs.append(blurred(x, features.catalog_blur))
    total = torch.zeros((), device=x.device)
    for source in inputs:
        for scale in features.scales:
            scaled = source if scale == 1.0 else _rescale(source, scale)
            views = (scaled, scaled.flip(3)) if features.flip else (scaled,)
            for view in views:
                fmap = runner(view).to(x.device)
                pooled = pool(fmap.float(), features)
                total = total + pooled
    descriptors = total / (features.passes * len(inputs))
    return l2_normalize(descriptors) if features.l2 else descriptors


def blurred(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """`x` through a Gaussian of `sigma` pixels of a BLUR_REFERENCE_SIDE input, scaled to
    `x`'s side (reflected at the borders)."""
    scaled = sigma * x.shape[-1] / BLUR_REFERENCE_SIDE
    # Reflection needs the half-kernel shorter than the side.
    half = min(math.ceil(3 * scaled), min(x.shape[-2:]) - 1)
    kernel = 2 * half + 1
    soft: torch.Tensor = gaussian_blur(x, [kernel, kernel], [scaled, scaled])
    return soft


def _rescale(x: torch.Tensor, scale: float) -> torch.Tensor:
    size = (max(32, round(x.shape[-2] * scale)), max(32, round(x.shape[-1] * scale)))
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
