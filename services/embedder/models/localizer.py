"""Finding the main item of a photo in the backbone's own feature map, without training: the
class activation map (the ImageNet classifier's weights applied at every place of the map)
of the classes of things a shop sells, its strongest blob, grown into a region to search on.

Measured against the alternatives on generated "item in a scene" photos (docs/quality.md):
SCDA (the channel sum, Wei et al. 2017) lights up every busy part of a cluttered scene; the
classifier's own top classes or all its object classes likewise; the shop's classes pick the
products out of the clutter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from services.embedder.decoding.cpu_decode import CropSpec
from vrs.images.region import Region

# ImageNet-1k classes of clothing, footwear, bags and accessories (torchvision's class order).
APPAREL_CLASSES = (
    264, 399, 400, 411, 414, 445, 452, 457, 459, 465, 474, 502, 514, 515, 568, 578, 601, 608,
    610, 614, 617, 630, 638, 639, 655, 658, 689, 697, 735, 748, 770, 774, 775, 806, 808, 824,
    834, 841, 869, 887, 903, 906,
)  # fmt: skip
CLASS_SETS: dict[str, tuple[int, ...]] = {"apparel": APPAREL_CLASSES, "all": tuple(range(1000))}
# Places above this share of the map's range form the blobs (0.5 merges neighbours, 0.7 keeps
# only a part of the item: measured on the tuning set).
THRESHOLD = 0.6
# The blob is the item's most telling part: its region grows this much around its centre,
# and to at least this share of the photo's sides.
GROWTH = 1.6
MIN_SIDE = 0.4
# A found item is searched on its own unless the photo already frames it: the item lies
# wholly inside the photo's usual centre crop and fills at least this share of the frame.
# (Tuned on the tuning sets: shop photos lose nothing, items in scenes gain; docs/quality.md.)
FRAMED_AREA = 0.3


@dataclass(frozen=True)
class Located:
    """The main item found: the blob the classifier saw, and the region grown around it."""

    seen: Region
    region: Region


@dataclass(frozen=True)
class Localizer:
    """The main item's region in a feature map (C x h x w of the whole photo, squashed)."""

    weights: torch.Tensor  # K x C: the classifier rows of the classes looked for

    @classmethod
    def for_classes(cls, classifier: torch.Tensor, classes: str) -> Localizer:
        return cls(classifier[list(CLASS_SETS[classes])].float().contiguous())

    def locate(self, fmap: torch.Tensor) -> Located:
        channels, height, width = fmap.shape
        cam = (self.weights @ fmap.float().reshape(channels, -1)).amax(dim=0)
        activation = cam.reshape(height, width).cpu().numpy()
        rows, cols = _strongest_blob(activation)
        box = Region(
            cols.min() / width,
            rows.min() / height,
            (cols.max() + 1 - cols.min()) / width,
            (rows.max() + 1 - rows.min()) / height,
        )
        return Located(box, grown(box, GROWTH, MIN_SIDE))


def grown(box: Region, factor: float, min_side: float) -> Region:
    """`box` grown `factor` times about its centre, each side at least `min_side`, clipped to
    the photo."""
    cx, cy = box.x + box.width / 2, box.y + box.height / 2
    half_w = max(box.width * factor, min_side) / 2
    half_h = max(box.height * factor, min_side) / 2
    left, top = max(0.0, cx - half_w), max(0.0, cy - half_h)
    right, bottom = min(1.0, cx + half_w), min(1.0, cy + half_h)
    return Region(left, top, right - left, bottom - top)


def _strongest_blob(activation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the 8-connected blob above THRESHOLD with the most activation."""
    low, high = float(activation.min()), float(activation.max())
    cut = low + THRESHOLD * (high - low)
    above = activation > cut
    if not above.any():  # a flat map: nothing stands out, the whole frame is the item
        return np.array([0, activation.shape[0] - 1]), np.array([0, activation.shape[1] - 1])
    labels = _labels(above)
    masses = [float((activation[labels == k] - cut).sum()) for k in range(1, labels.max() + 1)]
    best = 1 + int(np.argmax(masses))
    rows, cols = np.nonzero(labels == best)
    return rows, cols


def _labels(mask: np.ndarray) -> np.ndarray:
    """8-connected components of a small boolean map, numbered from 1 (0: background)."""
    height, width = mask.shape
    labels = np.zeros(mask.shape, dtype=np.int32)
    count = 0
    for start in zip(*np.nonzero(mask), strict=True):
        if labels[start]:
            continue
        count += 1
        labels[start] = count
        stack = [start]
        while stack:
            row, col = stack.pop()
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    r, c = row + dr, col + dc
                    if 0 <= r < height and 0 <= c < width and mask[r, c] and not labels[r, c]:
                        labels[r, c] = count
                        stack.append((r, c))
    return labels


def frames_the_item(found: Located, size: tuple[int, int], spec: CropSpec) -> bool:
    """True when the photo's usual framing (its centre crop) already holds the item found: the
    blob seen lies inside it, and the region grown around the blob is large."""
    width, height = size
    side = spec.crop / spec.resize * min(width, height)
    half_w, half_h = side / width / 2, side / height / 2
    seen = found.seen
    inside = (
        seen.x >= 0.5 - half_w - 1e-6
        and seen.y >= 0.5 - half_h - 1e-6
        and seen.x + seen.width <= 0.5 + half_w + 1e-6
        and seen.y + seen.height <= 0.5 + half_h + 1e-6
    )
    return inside and found.region.area >= FRAMED_AREA
