"""How close a match is, in words a shopper reads: the distances at which, for the serving
model, a result is the same product (or a near twin: a variant of it) and the same kind of
product, measured on a query set (`vrs calibrate`) and kept with the collection.

A calibration turns a distance into a label: at most `close_max_distance` is "close", at
most `similar_max_distance` "similar", beyond "weak". Each threshold is the largest distance
at which the results up to it still reach the target precision on the calibration queries.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

from vrs.errors import InvalidInput

DEFAULT_TARGET_PRECISION = 0.9


class MatchLabel(Enum):
    """How close a match is."""

    CLOSE = "close"
    SIMILAR = "similar"
    WEAK = "weak"


@dataclass(frozen=True)
class Calibration:
    """A model's two thresholds, and the precision each label had where they were measured."""

    close_max_distance: float
    similar_max_distance: float
    close_precision: float = 0.0
    similar_precision: float = 0.0
    weak_precision: float = 0.0
    queries: int = 0
    calibrated_at: str = ""
    # How many calibration results each label got (a precision over none means nothing).
    close_results: int = 0
    similar_results: int = 0
    weak_results: int = 0

    def label(self, distance: float) -> MatchLabel:
        if distance <= self.close_max_distance:
            return MatchLabel.CLOSE
        if distance <= self.similar_max_distance:
            return MatchLabel.SIMILAR
        return MatchLabel.WEAK

    def validated(self) -> Calibration:
        """InvalidInput unless both thresholds are finite, >= 0 and in order."""
        for name in ("close_max_distance", "similar_max_distance"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise InvalidInput(f"calibration {name} {value} is not a finite number >= 0")
        if self.similar_max_distance < self.close_max_distance:
            raise InvalidInput(
                f"calibration similar_max_distance {self.similar_max_distance} is below "
                f"close_max_distance {self.close_max_distance}"
            )
        return self

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibration:
        fields = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**fields)


@dataclass(frozen=True)
class Observation:
    """One result of a calibration query: its distance, and whether it was the query's product
    (or a variant of it) and whether it was the same kind of product (category)."""

    distance: float
    same_product: bool
    same_kind: bool


def calibrate(
    observations: Sequence[Observation],
    queries: int,
    target: float = DEFAULT_TARGET_PRECISION,
    calibrated_at: str = "",
) -> Calibration:
    """The thresholds at which the results up to each still reach `target` precision (same
    product for close, same kind for similar), and each label's precision over `observations`."""
    if not observations:
        raise InvalidInput("no results to calibrate on: is the catalog empty?")
    ranked = sorted(observations, key=lambda o: o.distance)
    close = _threshold(ranked, target, lambda o: o.same_product)
    similar = max(close, _threshold(ranked, target, lambda o: o.same_kind or o.same_product))
    calibration = Calibration(close, similar, queries=queries, calibrated_at=calibrated_at)
    precision = label_precision(calibration, observations)
    counts = {label: 0 for label in MatchLabel}
    for o in observations:
        counts[calibration.label(o.distance)] += 1
    return Calibration(
        close,
        similar,
        close_precision=precision[MatchLabel.CLOSE],
        similar_precision=precision[MatchLabel.SIMILAR],
        weak_precision=precision[MatchLabel.WEAK],
        queries=queries,
        calibrated_at=calibrated_at,
        close_results=counts[MatchLabel.CLOSE],
        similar_results=counts[MatchLabel.SIMILAR],
        weak_results=counts[MatchLabel.WEAK],
    )


def label_precision(
    calibration: Calibration, observations: Sequence[Observation]
) -> dict[MatchLabel, float]:
    """Per label, the share of results it was right about: close ones the same product (or a
    variant), similar ones the same kind, weak ones of another kind; 0.0 for an unused label."""
    right = {label: 0 for label in MatchLabel}
    seen = {label: 0 for label in MatchLabel}
    for o in observations:
        label = calibration.label(o.distance)
        seen[label] += 1
        if label is MatchLabel.CLOSE:
            right[label] += o.same_product
        elif label is MatchLabel.SIMILAR:
            right[label] += o.same_kind or o.same_product
        else:
            right[label] += not (o.same_kind or o.same_product)
    return {label: right[label] / seen[label] if seen[label] else 0.0 for label in MatchLabel}


def _threshold(ranked: Sequence[Observation], target: float, hit: Any) -> float:
    """The largest distance up to which the share of hits is at least `target` (0.0 when
    even the nearest result misses it)."""
    best, hits = 0.0, 0
    for n, o in enumerate(ranked, 1):
        hits += bool(hit(o))
        if hits / n >= target:
            best = o.distance
    return best
