"""A backbone's feature maps to descriptors, as the features variant says (scales, mirror
image, pooling, normalisation), whatever runtime computes the maps."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from services.embedder.models.features import Features
from services.embedder.models.pooling import l2_normalize, pool


def describe(
    runner: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, features: Features
) -> torch.Tensor:
    """Normalised input (N x 3 x H x W) to N descriptors: the feature map of each scale (and
    its mirror image) pooled in fp32, averaged, then normalised as the variant says."""
    total = torch.zeros((), device=x.device)
    for scale in features.scales:
        scaled = x if scale == 1.0 else _rescale(x, scale)
        views = (scaled, scaled.flip(3)) if features.flip else (scaled,)
        for view in views:
            fmap = runner(view).to(x.device)
            pooled = pool(fmap.float(), features)
            total = total + pooled
    descriptors = total / features.passes
    return l2_normalize(descriptors) if features.l2 else descriptors


def _rescale(x: torch.Tensor, scale: float) -> torch.Tensor:
    size = (max(32, round(x.shape[-2] * scale)), max(32, round(x.shape[-1] * scale)))
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
