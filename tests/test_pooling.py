"""Features variants: pooling and post-processing against hand-computed values, model ids per
variant, today's vectors kept for `avg`, and the default variant on real shop-like photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from PIL import Image
from pydantic import ValidationError
from torch import nn

from services.embedder.decoding.cpu_decode import CropSpec, prepare, to_pixels, with_crop_fraction
from services.embedder.models.backbones import BACKBONES
from services.embedder.models.descriptors import blurred, describe
from services.embedder.models.features import Features, parse_features
from services.embedder.models.pooling import (
    avg_pool,
    gem_pool,
    l2_normalize,
    max_pool,
    pool,
    rmac_pool,
    rmac_regions,
)
from services.embedder.models.weights import load_model
from services.embedder.runtimes.engine import InferenceEngine
from tests.support.catalog import read_catalog
from vrs.errors import ConfigurationError
from vrs.evaluation.queryset import distort
from vrs.settings import ModelSettings
from vrs.store.base import check_model_id

TOP = 3  # ranks 0..2: the own product among the first three of 100-200 products

# One image, two channels, a 2 x 2 map: channel 0 holds 1..4, channel 1 only a 4 top right.
FMAP = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 4.0], [0.0, 0.0]]]])


def test_avg_pooling_is_the_mean_of_each_channel() -> None:
    assert avg_pool(FMAP).tolist() == [[2.5, 1.0]]


def test_max_pooling_is_the_largest_value_of_each_channel() -> None:
    assert max_pool(FMAP).tolist() == [[4.0, 4.0]]


def test_gem_pooling_is_the_cube_root_of_the_mean_cube() -> None:
    # channel 0: ((1 + 8 + 27 + 64) / 4) ** (1/3) = 25 ** (1/3); channel 1: (64 / 4) ** (1/3)
    np.testing.assert_allclose(
        gem_pool(FMAP, 3.0).numpy(), [[25 ** (1 / 3), 16 ** (1 / 3)]], rtol=1e-5
    )


def test_gem_pooling_with_exponent_one_is_avg_pooling() -> None:
    np.testing.assert_allclose(gem_pool(FMAP, 1.0).numpy(), [[2.5, 1.0]], rtol=1e-5)


def test_rmac_regions_of_a_7x7_map_are_1_4_and_9_squares_of_sides_7_5_4() -> None:
    regions = rmac_regions(7, 7)
    assert regions[0] == (0, 0, 7)
    assert sorted(regions[1:5]) == [(0, 0, 5), (0, 2, 5), (2, 0, 5), (2, 2, 5)]
    assert sorted({(t, left) for t, left, side in regions[5:] if side == 4}) == [
        (t, left) for t in (0, 2, 3) for left in (0, 2, 3)
    ]
    assert len(regions) == 14


def test_rmac_pooling_sums_the_unit_maxima_of_its_regions() -> None:
    # 2 x 2 map: the whole map (maxima 4, 4 -> 0.7071 each), then levels 2 and 3 are the four
    # single cells each: (1,0) (3,0)->(1,0) (2,4)->(0.447,0.894) (4,0)->(1,0), taken twice.
    cells = np.array([[1, 0], [1, 0], [2, 4] / np.hypot(2, 4), [1, 0]]).sum(axis=0)
    expected = np.array([1, 1]) / np.sqrt(2) + 2 * cells
    np.testing.assert_allclose(rmac_pool(FMAP).numpy(), [expected], rtol=1e-5)


def test_l2_normalisation_gives_unit_vectors_and_leaves_zero_alone() -> None:
    normalised = l2_normalize(torch.tensor([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(normalised.numpy(), [[0.6, 0.8], [0.0, 0.0]], rtol=1e-6)


class _LeftColumn(nn.Module):
    """A feature 'network' that sees only the leftmost column: mirroring changes its output."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, :, :1]


class _SideLength(nn.Module):
    """A feature 'network' whose map holds the side length of its input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full((x.shape[0], 1, 2, 2), float(x.shape[-1]))


def test_flip_averages_the_descriptor_of_the_mirror_image() -> None:
    image = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    # left column mean 2, right column (the mirror's left) mean 3
    flipped = describe(_LeftColumn(), image, parse_features("avg-flip"))
    assert flipped.tolist() == [[2.5]]
    assert describe(_LeftColumn(), image, parse_features("avg")).tolist() == [[2.0]]


def test_multiscale_averages_the_descriptors_of_each_input_scale() -> None:
    image = torch.zeros(1, 3, 64, 64)
    assert describe(_SideLength(), image, parse_features("avg-ms1_0.5")).tolist() == [[48.0]]


def test_l2_is_applied_after_pooling_and_averaging() -> None:
    image = torch.tensor([[[[3.0, 1.0]], [[4.0, 0.0]]]])  # channels 3|4 in the left column
    np.testing.assert_allclose(
        describe(_LeftColumn(), image, parse_features("max-l2")).numpy(), [[0.6, 0.8]]
    )


def test_pool_dispatches_on_the_variant() -> None:
    for tag, expected in [("avg", avg_pool(FMAP)), ("max", max_pool(FMAP)),
                          ("gem4", gem_pool(FMAP, 4.0)), ("rmac", rmac_pool(FMAP))]:  # fmt: skip
        np.testing.assert_allclose(pool(FMAP, parse_features(tag)).numpy(), expected.numpy())


def test_tags_round_trip_through_the_parser() -> None:
    for tag in ["avg", "gem3-l2", "gem2.5", "rmac-l2-ms1_0.71-flip", "max-flip"]:
        assert parse_features(tag).tag == tag


@pytest.mark.parametrize(
    ("tag", "names"),
    [("sum", "pooling 'sum'"), ("gem3-l1", "'l1'"), ("gem3-ms9", "scales"), ("gem0.5", "GeM")],
)
def test_an_unknown_variant_is_refused_naming_the_part(tag: str, names: str) -> None:
    with pytest.raises(ConfigurationError, match=names):
        parse_features(tag)


def test_the_setting_refuses_a_malformed_variant() -> None:
    with pytest.raises(ValidationError, match="features"):
        ModelSettings(features="gem3+l2")


def test_the_crop_token_parses_and_is_checked() -> None:
    assert parse_features("gem2-crop0.8") == Features(pooling="gem", gem_p=2.0, crop=0.8)
    assert parse_features("gem2-crop0.8").tag == "gem2-crop0.8"
    assert parse_features("avg-crop1").id_suffix == "+avg-crop1"
    with pytest.raises(ConfigurationError, match="crop fraction"):
        parse_features("gem3-crop0.3")
    with pytest.raises(ConfigurationError, match="given twice"):
        parse_features("gem3-crop0.8-crop0.9")


def test_a_crop_fraction_resizes_larger_and_keeps_the_centre() -> None:
    """A 8 x 10 image, crop 4 keeping half the shorter side: resized to 8 (its own size, so
    the pixels stay), then the centre 4 x 4: columns 2..5, rows 3..6."""
    spec = with_crop_fraction(CropSpec(5, 4, Image.Resampling.BICUBIC), 0.5)
    assert spec == CropSpec(8, 4, Image.Resampling.BICUBIC)
    assert with_crop_fraction(spec, None) is spec
    values = np.arange(10 * 8 * 3, dtype=np.uint8).reshape(10, 8, 3)
    pixels = to_pixels(Image.fromarray(values), spec)
    np.testing.assert_array_equal(pixels, values[3:7, 2:6])


def test_the_catalog_blur_token_parses_and_is_checked() -> None:
    features = parse_features("gem2-crop0.8-cblur3")
    assert features == Features(pooling="gem", gem_p=2.0, crop=0.8, catalog_blur=3.0)
    assert features.tag == "gem2-crop0.8-cblur3"
    assert (features.passes, features.catalog_passes) == (1, 2)
    with pytest.raises(ConfigurationError, match="catalog blur sigma"):
        parse_features("gem2-cblur0")
    with pytest.raises(ConfigurationError, match="given twice"):
        parse_features("gem2-cblur2-cblur3")


def test_a_catalog_photo_averages_in_its_blurred_copy_and_a_query_does_not() -> None:
    """A one-pixel spike: the blurred copy spreads it, so its maximum falls; a catalog
    photo's max-pooled descriptor is the mean of the sharp and the blurred maxima."""
    image = torch.zeros(1, 1, 32, 32)
    image[0, 0, 16, 16] = 1.0
    features = parse_features("max-cblur14")
    query = describe(nn.Identity(), image, features)
    catalog = describe(nn.Identity(), image, features, catalog=True)
    blurred_max = float(blurred(image, 14.0).amax())
    assert query.tolist() == [[1.0]]
    assert blurred_max < 0.5
    assert float(catalog) == pytest.approx((1.0 + blurred_max) / 2)


def test_the_catalog_blur_scales_with_the_input_side() -> None:
    """sigma is given for a 224-pixel input: a 448-pixel one is blurred twice as wide."""
    small, large = torch.zeros(1, 1, 224, 224), torch.zeros(1, 1, 448, 448)
    small[0, 0, 112, 112] = large[0, 0, 224, 224] = 1.0
    spread_small = float(blurred(small, 2.0)[0, 0, 112].gt(1e-4).sum())
    spread_large = float(blurred(large, 2.0)[0, 0, 224].gt(1e-4).sum())
    assert spread_large > 1.8 * spread_small


def test_model_ids_differ_per_variant_and_name_collections_safely() -> None:
    backbone = BACKBONES["efficientnet_lite0"]
    tags = [
        "avg",
        "max",
        "gem3",
        "gem3-l2",
        "gem4-l2",
        "rmac-l2",
        "gem3-l2-ms1_0.71",
        "gem3-flip",
        "gem2-crop0.8",
        "gem2-crop0.8-cblur3",
    ]
    ids = [backbone.identity(parse_features(tag)) for tag in tags]
    assert len(set(ids)) == len(tags)
    assert ids[0] == "efficientnet_lite0"
    assert ids[3] == "efficientnet_lite0+gem3-l2"
    for model_id in ids:
        check_model_id(f"{model_id}@57934424")


def test_the_loaded_model_id_carries_the_variant() -> None:
    settings = ModelSettings(backbone="efficientnet_lite0", weights="random", features="gem3-l2")
    loaded = load_model(BACKBONES["efficientnet_lite0"], settings)
    assert loaded.model_id == "efficientnet_lite0+gem3-l2@random-seed0"
    assert loaded.features == Features(pooling="gem", gem_p=3.0, l2=True)


def test_the_avg_variant_reproduces_todays_vectors_and_model_id(
    effnet_engine: InferenceEngine,
) -> None:
    """Today's definition (timm's own average pooling) with the same weights, same vectors."""
    settings = ModelSettings(
        backbone="efficientnet_lite0", features="avg", runtime="torch", cpu_precision="fp32"
    )
    backbone = BACKBONES["efficientnet_lite0"]
    loaded = load_model(backbone, settings)
    assert loaded.model_id.startswith("efficientnet_lite0@") and "+" not in loaded.model_id
    assert loaded.model_id.split("@")[1] == effnet_engine.model_id.split("@")[1]
    todays = timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=0)
    todays.load_state_dict(loaded.module.state_dict())
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (224, 224, 3), dtype=np.uint8) for _ in range(2)]
    x = (torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255 - 0.5) / 0.5
    with torch.inference_mode():
        expected = todays.eval()(x).numpy()
    vectors = InferenceEngine(backbone, loaded, settings).embed(images)
    np.testing.assert_allclose(vectors, expected, rtol=1e-4, atol=1e-5)


def test_the_default_variant_is_generalised_mean_pooling_of_a_tighter_crop_and_a_blurred_catalog(
    effnet_engine: InferenceEngine,
) -> None:
    assert effnet_engine.features == parse_features(ModelSettings().features)
    assert effnet_engine.features == Features(pooling="gem", gem_p=2.0, crop=0.8, catalog_blur=3.0)
    # timm's 256 -> 224 (crop fraction 0.875) becomes 280 -> 224.
    assert effnet_engine.crop == CropSpec(280, 224, Image.Resampling.BICUBIC)
    assert effnet_engine.backbone.crop == CropSpec(256, 224, Image.Resampling.BICUBIC)
    assert effnet_engine.model_id.startswith("efficientnet_lite0+gem2-crop0.8-cblur3@")


def shop_photo(path: Path, seed: int) -> bytes:
    """vrs.evaluation's shop photo of a catalog photo (cropped, tilted, re-lit, blurred...)."""
    with Image.open(path) as photo:
        return distort(photo, np.random.default_rng(seed))


def test_the_default_variant_ranks_a_shop_photos_own_product_near_the_top(
    effnet_engine: InferenceEngine, sample_catalog: Path
) -> None:
    """Real weights, the whole sample catalog (the seed photos, or the drawn catalog on a
    machine without them), shop-like photos of two of its products. With the seed photos both
    rank first; drawn products look alike, so the bound is the first three."""
    rows = read_catalog(sample_catalog)
    crop = effnet_engine.crop
    stored = np.concatenate(
        [
            effnet_engine.embed(
                [prepare(r.image.read_bytes(), 10**8, crop) for r in rows[i : i + 32]]
            )
            for i in range(0, len(rows), 32)
        ]
    )
    wanted = [0, len(rows) - 1]  # one product of the first category, one of the last
    photos = [prepare(shop_photo(rows[i].image, seed=i), 10**8, crop) for i in wanted]
    queries = effnet_engine.embed(photos, catalog=False)
    distances = np.linalg.norm(stored[None, :, :] - queries[:, None, :], axis=2)
    ranks = [int((row < row[i]).sum()) for row, i in zip(distances, wanted, strict=True)]
    print("ranks of the own products:", ranks)
    assert all(rank < TOP for rank in ranks), ranks
