"""A part of a photo to search on: the item the shopper points at, or the one vrs finds."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from vrs.errors import InvalidInput

# Rounding slack for boxes computed in floats (a box ending at 1.0000001 is still inside).
_SLACK = 1e-4
# Smaller than this share of a side, a region holds too few pixels to describe anything.
MIN_SIDE = 0.01


class RegionSource(Enum):
    """Where the region a search used came from."""

    GIVEN = "given"
    FOUND = "found"
    WHOLE = "whole"


@dataclass(frozen=True)
class Region:
    """A box in a photo as fractions of its width and height (top left corner 0, 0)."""

    x: float
    y: float
    width: float
    height: float

    def validated(self) -> Region:
        """This region, or InvalidInput naming what is wrong with it."""
        values = (self.x, self.y, self.width, self.height)
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in values):
            raise InvalidInput(
                f"region {self.text()} is not four finite numbers (x, y, width, height)"
            )
        if self.width < MIN_SIDE or self.height < MIN_SIDE:
            raise InvalidInput(
                f"region {self.text()} is empty: its width and height must be at least "
                f"{MIN_SIDE} of the photo's"
            )
        if self.x < -_SLACK or self.y < -_SLACK:
            raise InvalidInput(f"region {self.text()} starts outside the photo (x and y >= 0)")
        if self.x + self.width > 1 + _SLACK or self.y + self.height > 1 + _SLACK:
            raise InvalidInput(
                f"region {self.text()} ends outside the photo (x + width and y + height <= 1)"
            )
        x, y = max(0.0, self.x), max(0.0, self.y)
        return Region(x, y, min(self.width, 1 - x), min(self.height, 1 - y))

    @property
    def area(self) -> float:
        return self.width * self.height

    def text(self) -> str:
        """ "x,y,width,height", as the HTTP form and the CLI take it."""
        return ",".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in self._values())

    def key(self) -> str:
        """The region in a cache key: equal regions (to 1/10000) give equal keys."""
        return ",".join(f"{v:.4f}" for v in self._values())

    def _values(self) -> tuple[float, float, float, float]:
        return (self.x, self.y, self.width, self.height)


WHOLE = Region(0.0, 0.0, 1.0, 1.0)


@dataclass(frozen=True)
class UsedRegion:
    """The region a search used, and where it came from."""

    region: Region
    source: RegionSource


def parse_region(text: str) -> Region:
    """ "x,y,width,height" (fractions of the photo) as a validated Region; InvalidInput naming
    the problem otherwise."""
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 4:
        raise InvalidInput(
            f"region {text[:60]!r} is not four numbers x,y,width,height (got {len(parts)} parts)"
        )
    try:
        x, y, width, height = (float(part) for part in parts)
    except ValueError:
        raise InvalidInput(f"region {text[:60]!r} is not four numbers x,y,width,height") from None
    return Region(x, y, width, height).validated()
