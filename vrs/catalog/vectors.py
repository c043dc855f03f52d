"""Feature vectors: their type, and the checks every vector passes before it is stored."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from vrs.errors import InvalidVector
from vrs.limits import MAX_VECTOR_NORM

Vector = npt.NDArray[np.float32]


def checked_vector(values: Any, dimension: int, what: str = "vector") -> Vector:
    """A float32 copy of `values`, or InvalidVector naming the problem."""
    # Checked in float64, so a value beyond float32's range is refused by name, not cast to inf.
    try:
        wide = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidVector(f"{what} is not a list of numbers: {exc}") from exc
    if wide.shape[0] != dimension:
        raise InvalidVector(f"{what} has dimension {wide.shape[0]}, expected {dimension}")
    if not np.isfinite(wide).all():
        raise InvalidVector(f"{what} contains NaN or infinite values")
    norm = float(np.linalg.norm(wide))
    if not norm <= MAX_VECTOR_NORM:
        raise InvalidVector(
            f"{what} has L2 norm {norm:.3g}, above {MAX_VECTOR_NORM:.0e}: distances to it "
            "could not be represented in float32"
        )
    return wide.astype(np.float32)
