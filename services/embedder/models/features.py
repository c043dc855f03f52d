"""How a backbone's feature map becomes a vector: pooling and post-processing, by name.

A variant is written as its tag, e.g. `avg`, `gem3-l2`, `rmac-l2-ms1_0.71-flip`: the pooling
(`avg`, `max`, `gemP` generalised mean with exponent P, `rmac` regional maximum activations),
then optional `l2` (unit-length vectors), `msS1_S2...` (input scales, descriptors averaged),
`cropF` (the centre crop keeps the fraction F of the resized shorter side instead of the
backbone's own, e.g. `crop0.8`), `flip` (the mirrored image's descriptor averaged in) and
`cblurS` (catalog photos only: the descriptor of the photo blurred with a Gaussian of sigma S
pixels of a 224-pixel input is averaged in, so sharp studio photos meet the softer photos
shoppers send; queries are embedded as they are, at no extra cost).
The tag is part of the model id, so vectors of different variants never share a collection.
Torch-free: settings and tests parse tags too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Literal

from vrs.errors import ConfigurationError

Pooling = Literal["avg", "max", "gem", "rmac"]

_POOLING = re.compile(r"^(avg|max|rmac|gem(\d+(?:\.\d+)?))$")
_SCALES = re.compile(r"^ms(\d+(?:\.\d+)?(?:_\d+(?:\.\d+)?)*)$")
_CROP = re.compile(r"^crop(\d+(?:\.\d+)?)$")
_CATALOG_BLUR = re.compile(r"^cblur(\d+(?:\.\d+)?)$")
MAX_SCALES = 4
# Tokens holding one number: the pattern, the Features field, its bounds and its name.
_NUMBERS = (
    (_CROP, "crop", 0.5, 1.0, "crop fraction"),
    (_CATALOG_BLUR, "catalog_blur", 0.1, 16.0, "catalog blur sigma"),
)


@dataclass(frozen=True)
class Features:
    """A pooling and post-processing variant of a backbone's features."""

    pooling: Pooling = "avg"
    gem_p: float = 3.0
    l2: bool = False
    scales: tuple[float, ...] = (1.0,)
    flip: bool = False
    # Fraction of the resized shorter side the centre crop keeps; None: the backbone's own.
    crop: float | None = None
    # Sigma (pixels of a 224-pixel input) of the blurred view averaged into catalog photos'
    # descriptors; None: catalog photos are embedded as queries are.
    catalog_blur: float | None = None

    @property
    def tag(self) -> str:
        parts = [f"gem{_number(self.gem_p)}" if self.pooling == "gem" else self.pooling]
        if self.l2:
            parts.append("l2")
        if self.scales != (1.0,):
            parts.append("ms" + "_".join(_number(s) for s in self.scales))
        if self.crop is not None:
            parts.append(f"crop{_number(self.crop)}")
        if self.flip:
            parts.append("flip")
        if self.catalog_blur is not None:
            parts.append(f"cblur{_number(self.catalog_blur)}")
        return "-".join(parts)

    @property
    def id_suffix(self) -> str:
        """What the variant adds to the backbone's name in the model id: nothing for plain
        average pooling, so collections made before variants existed keep their ids."""
        return "" if self == Features() else f"+{self.tag}"

    @property
    def passes(self) -> int:
        """Forward passes per query image."""
        return len(self.scales) * (2 if self.flip else 1)

    @property
    def catalog_passes(self) -> int:
        """Forward passes per catalog photo: a query's, twice with the blurred view."""
        return self.passes * (1 if self.catalog_blur is None else 2)


def parse_features(tag: str) -> Features:
    """`gem3-l2` to Features; ConfigurationError naming the part that is not understood."""
    tokens = tag.strip().lower().split("-")
    pooling = _POOLING.match(tokens[0])
    if pooling is None:
        raise ConfigurationError(
            f"features {tag!r}: pooling {tokens[0]!r} is not avg, max, rmac or gem<p> (e.g. gem3)"
        )
    gem_p = float(pooling.group(2)) if pooling.group(2) else 3.0
    if pooling.group(2) and not 1.0 <= gem_p <= 16.0:
        raise ConfigurationError(f"features {tag!r}: GeM exponent must be in [1, 16]")
    kind: Pooling = "gem" if pooling.group(2) else pooling.group(1)  # type: ignore[assignment]
    features = Features(pooling=kind, gem_p=gem_p)
    seen: set[str] = set()
    for token in tokens[1:]:
        key = next((k for k in ("ms", "crop", "cblur") if token.startswith(k)), token)
        if key in seen:
            raise ConfigurationError(f"features {tag!r}: {key!r} given twice")
        seen.add(key)
        features = _apply(tag, token, features)
    return features


def _apply(tag: str, token: str, features: Features) -> Features:
    if token == "l2":
        return replace(features, l2=True)
    if token == "flip":
        return replace(features, flip=True)
    for pattern, field, low, high, what in _NUMBERS:
        number = pattern.match(token)
        if number is not None:
            value = float(number.group(1))
            if not low <= value <= high:
                raise ConfigurationError(f"features {tag!r}: {what} must be in [{low:g}, {high:g}]")
            changes: dict[str, Any] = {field: value}
            return replace(features, **changes)
    scales = _SCALES.match(token)
    if scales is None:
        raise ConfigurationError(
            f"features {tag!r}: {token!r} is not l2, flip, crop<fraction> (e.g. crop0.8), "
            "cblur<sigma> (e.g. cblur3) or ms<scale>_<scale>... (e.g. ms1_0.71)"
        )
    values = tuple(float(s) for s in scales.group(1).split("_"))
    if len(values) > MAX_SCALES or not all(0.25 <= s <= 2.0 for s in values):
        raise ConfigurationError(
            f"features {tag!r}: at most {MAX_SCALES} scales, each in [0.25, 2]"
        )
    return replace(features, scales=values)


def _number(value: float) -> str:
    return f"{value:g}"
