"""Backbones, weights resolution and the inference engine."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from services.embedder.decoding.cpu_decode import prepare
from services.embedder.models.backbones import BACKBONES
from services.embedder.models.weights import load_model
from services.embedder.runtimes.engine import InferenceEngine
from tests.support.factories import build_engine
from tests.support.images import product_jpeg
from vrs.errors import WeightsUnavailable
from vrs.settings import ModelSettings


def pixels(backbone: str, n: int = 3) -> list[np.ndarray]:
    crop = BACKBONES[backbone].crop
    return [
        prepare(product_jpeg(c, seed=i), 10**8, crop)
        for i, c in enumerate(["shirt", "shoes", "bag", "hat"][:n])
    ]


@pytest.fixture
def empty_torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch"


def test_inception_gives_pooled_2048_features(inception_engine: InferenceEngine) -> None:
    vectors = inception_engine.embed(pixels("inception_v3"))
    assert vectors.shape == (3, 2048)
    assert vectors.dtype == np.float32
    assert (vectors >= 0).all(), "pooled ReLU features, not logits"
    assert inception_engine.model_id == "inception_v3+gem2-crop0.8-cblur3@random-seed0"


def test_efficientnet_gives_1280_features(effnet_engine: InferenceEngine) -> None:
    vectors = effnet_engine.embed(pixels("efficientnet_lite0"))
    assert vectors.shape == (3, 1280)
    assert effnet_engine.model_id.startswith("efficientnet_lite0+gem2-crop0.8-cblur3@")


def test_no_weights_fails_naming_three_ways(empty_torch_home: Path) -> None:
    settings = ModelSettings(backbone="inception_v3", allow_download=False)
    with pytest.raises(WeightsUnavailable) as failure:
        load_model(BACKBONES["inception_v3"], settings)
    message = str(failure.value)
    assert "VRS_MODEL_WEIGHTS_PATH" in message
    assert str(empty_torch_home / "hub" / "checkpoints") in message
    assert "inception_v3_google-0cc3c7bd.pth" in message
    assert "download" in message


def test_unreachable_download_fails_loudly(
    empty_torch_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offline: the download is tried, fails, and the error says so; never random weights."""

    def offline(*args: object, **kwargs: object) -> None:
        raise OSError("network is unreachable")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(WeightsUnavailable, match="network is unreachable"):
        load_model(BACKBONES["inception_v3"], ModelSettings(backbone="inception_v3"))


def test_explicit_file_and_hub_cache_load_real_tensors(
    tmp_path: Path, empty_torch_home: Path, inception_engine: InferenceEngine
) -> None:
    """A checkpoint in either place is loaded tensor for tensor (here: the seeded network's)."""
    torch.manual_seed(0)
    state = BACKBONES["inception_v3"].build().state_dict()
    # A real checkpoint holds the ImageNet classifier too (the item finder reads it).
    state["fc.weight"] = torch.randn(1000, 2048) * 0.01
    state["fc.bias"] = torch.zeros(1000)
    explicit = tmp_path / "weights.pth"
    torch.save(state, explicit)
    cache = empty_torch_home / "hub" / "checkpoints" / "inception_v3_google-0cc3c7bd.pth"
    cache.parent.mkdir(parents=True)
    torch.save(state, cache)
    expected = inception_engine.embed(pixels("inception_v3", 2))
    for settings, source in [
        # fp32: this is about loading; int8 would be judged first (minutes for Inception v3).
        (
            ModelSettings(weights_path=explicit, allow_download=False, cpu_precision="fp32"),
            "VRS_MODEL_WEIGHTS_PATH",
        ),
        (ModelSettings(allow_download=False, cpu_precision="fp32"), "torch hub cache"),
    ]:
        loaded = load_model(BACKBONES["inception_v3"], settings)
        assert loaded.source == source
        assert (
            loaded.model_id.startswith("inception_v3+gem2-crop0.8-cblur3@")
            and "random" not in loaded.model_id
        )
        engine = InferenceEngine(BACKBONES["inception_v3"], loaded, settings)
        np.testing.assert_allclose(engine.embed(pixels("inception_v3", 2)), expected, atol=1e-4)


def test_wrong_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pth"
    torch.save({"conv.weight": torch.zeros(3)}, bad)
    with pytest.raises(WeightsUnavailable, match="does not fit inception_v3"):
        load_model(BACKBONES["inception_v3"], ModelSettings(weights_path=bad))


def test_random_weights_log_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        loaded = load_model(
            BACKBONES["efficientnet_lite0"],
            ModelSettings(backbone="efficientnet_lite0", weights="random"),
        )
    assert loaded.model_id == "efficientnet_lite0+gem2-crop0.8-cblur3@random-seed0"
    assert any("RANDOM weights" in r.message for r in caplog.records)


@pytest.mark.parametrize("backbone", ["efficientnet_lite0", "inception_v3"])
def test_every_cpu_runtime_stays_within_cosine_099_of_eager_fp32(backbone: str) -> None:
    weights = "pretrained" if backbone == "efficientnet_lite0" else "random"
    fp32 = build_engine(backbone, weights, runtime="torch", cpu_precision="fp32")
    batch = pixels(backbone, 4)
    reference = fp32.embed(batch)
    for runtime, precision in (("torch", "bf16"), ("openvino", "bf16"), ("openvino", "fp32")):
        other = build_engine(backbone, weights, runtime=runtime, cpu_precision=precision)
        assert other.device_name.startswith(runtime)
        vectors = other.embed(batch)
        cosine = (reference * vectors).sum(1) / np.linalg.norm(reference, axis=1)
        cosine /= np.linalg.norm(vectors, axis=1)
        assert cosine.min() > 0.99, (runtime, precision)
