"""Feature map (N x C x H x W) to descriptors (N x C): the pooling options of a variant."""

from __future__ import annotations

import math

import torch

from services.embedder.models.features import Features

EPS = 1e-6
RMAC_LEVELS = 3


def avg_pool(fmap: torch.Tensor) -> torch.Tensor:
    return fmap.mean(dim=(2, 3))


def max_pool(fmap: torch.Tensor) -> torch.Tensor:
    return fmap.amax(dim=(2, 3))


def gem_pool(fmap: torch.Tensor, p: float) -> torch.Tensor:
    """Generalised mean (Radenovic et al.): (mean x^p)^(1/p); p=1 is avg, large p tends to max.
    Clamped at EPS so that fractional powers stay real."""
    return fmap.clamp(min=EPS).pow(p).mean(dim=(2, 3)).pow(1.0 / p)


def l2_normalize(vectors: torch.Tensor) -> torch.Tensor:
    unit: torch.Tensor = vectors / vectors.norm(dim=1, keepdim=True).clamp(min=EPS)
    return unit


def rmac_regions(height: int, width: int, levels: int = RMAC_LEVELS) -> list[tuple[int, int, int]]:
    """Square regions (top, left, side) of R-MAC (Tolias et al.): at level l, squares of side
    2*min(H, W)/(l+1), l of them along the shorter axis (more along a longer one), spread
    evenly from edge to edge."""
    short = min(height, width)
    regions: list[tuple[int, int, int]] = []
    for level in range(1, levels + 1):
        side = max(1, round(2 * short / (level + 1)))
        for top in _starts(height, side, level, short):
            for left in _starts(width, side, level, short):
                regions.append((top, left, side))
    return regions


def _starts(length: int, side: int, level: int, short: int) -> list[int]:
    count = level + math.ceil((length - short) / side)
    if count == 1:
        return [(length - side) // 2]
    step = (length - side) / (count - 1)
    return sorted({round(i * step) for i in range(count)})


def rmac_pool(fmap: torch.Tensor) -> torch.Tensor:
    """Sum of the L2-normalised maxima of each R-MAC region."""
    _, _, height, width = fmap.shape
    total = torch.zeros(fmap.shape[:2], dtype=fmap.dtype, device=fmap.device)
    for top, left, side in rmac_regions(height, width):
        region = fmap[:, :, top : top + side, left : left + side]
        total = total + l2_normalize(max_pool(region))
    return total


def pool(fmap: torch.Tensor, features: Features) -> torch.Tensor:
    """One feature map's descriptors, before normalisation."""
    if features.pooling == "avg":
        return avg_pool(fmap)
    if features.pooling == "max":
        return max_pool(fmap)
    if features.pooling == "gem":
        return gem_pool(fmap, features.gem_p)
    return rmac_pool(fmap)
