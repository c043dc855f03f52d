"""The vector sizes of the backbones vrs knows, by model id, without the model stack."""

from __future__ import annotations

from vrs.errors import ModelMismatch

# Kept in step with services/embedder/models/backbones.py (a test checks), which imports torch:
# the CLI and a search-only process must know these without it.
BACKBONE_DIMENSIONS = {"inception_v3": 2048, "efficientnet_lite0": 1280}


def check_dimension(model_id: str, dimension: int, what: str) -> None:
    """Refuses `dimension`-d vectors named as a known backbone's that makes other sizes (the
    id's part before '@' is the bare backbone name); other model ids take any size."""
    expected = BACKBONE_DIMENSIONS.get(model_id.split("@", 1)[0])
    if expected is not None and expected != dimension:
        raise ModelMismatch(
            f"{what} has dimension {dimension}, but model {model_id!r} makes {expected}-d vectors"
        )
