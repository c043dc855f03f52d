"""The vector sizes vrs knows without the model stack are the backbones' own."""

from __future__ import annotations

import pytest

from services.embedder.models.backbones import BACKBONES
from vrs.errors import ModelMismatch
from vrs.modelinfo.dimensions import BACKBONE_DIMENSIONS, check_dimension


def test_known_dimensions_match_the_backbones() -> None:
    assert {name: b.dimension for name, b in BACKBONES.items()} == BACKBONE_DIMENSIONS


def test_a_known_backbones_id_with_another_size_is_refused() -> None:
    with pytest.raises(ModelMismatch, match="makes 2048-d vectors"):
        check_dimension("inception_v3@2015", 512, "the file's vectors")


@pytest.mark.parametrize(
    ("model_id", "dimension"),
    [("inception_v3@2015", 2048), ("legacy_cnn@1", 7), ("efficientnet_lite0+gem3@x", 99)],
)
def test_other_ids_and_matching_sizes_pass(model_id: str, dimension: int) -> None:
    check_dimension(model_id, dimension, "vectors")
