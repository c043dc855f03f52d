"""int8 on CPUs without native bf16: served only when it passes the accuracy gate (recall of
shop photos and scenes within half a point of fp32's, same runtime and mixed, no vector below
cosine 0.98), else fp32 saying why; the verdict and the quantised model are cached."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from services.embedder.decoding.cpu_decode import CropSpec
from services.embedder.models.features import Features
from services.embedder.runtimes.choice import build_runner
from services.embedder.runtimes.int8 import Int8Inputs, cpu_has_vnni
from services.embedder.runtimes.int8_gate import Verdict, verdict_of
from tests.support.factories import build_engine
from tests.support.tiny_model import TinyBackbone
from vrs.catalog.sample import generate
from vrs.settings import ModelSettings

CPU = torch.device("cpu")
SIDE = 32
N = 200  # queries per kind: one is half a recall point


def vectors(seed: int, noise: float = 0.0, broken: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """fp32 and int8 vectors of a catalog and its shop and scene queries: queries are their
    product's vector plus noise; int8 is fp32 plus `noise`, with `broken` catalog vectors
    replaced by random ones."""
    rng = np.random.default_rng(seed)
    catalog = rng.normal(size=(N, 16))
    fp32 = {
        "catalog": catalog,
        "shop": catalog + rng.normal(scale=0.6, size=catalog.shape),
        "scene": catalog + rng.normal(scale=0.9, size=catalog.shape),
    }
    int8 = {k: v + rng.normal(scale=noise, size=v.shape) for k, v in fp32.items()}
    int8["catalog"][:broken] = rng.normal(size=(broken, 16))
    return {"fp32": fp32, "int8": int8}


EXPECTED = {"shop": np.arange(N), "scene": np.arange(N)}


def test_int8_as_good_as_fp32_passes() -> None:
    verdict = verdict_of(vectors(1, noise=0.001), EXPECTED)
    assert verdict.passed, verdict.reason
    assert verdict.figures["cosine_min"] > 0.99


def test_a_vector_far_from_fp32s_fails_naming_the_cosine() -> None:
    verdict = verdict_of(vectors(1, noise=0.001, broken=1), EXPECTED)
    assert not verdict.passed
    assert "a photo's int8 vector is at cosine" in verdict.reason


def test_recall_lost_in_a_mixed_deployment_fails_naming_the_situation() -> None:
    # Enough noise to lose a few queries; cosine stays above the floor (16-d, small noise).
    verdict = verdict_of(vectors(2, noise=0.35), EXPECTED)
    assert not verdict.passed
    assert "recall@" in verdict.reason and "at most -0.5 allowed" in verdict.reason
    for situation in ("int8_catalog_int8_queries", "fp32_catalog_int8_queries"):
        assert f"scene_{situation}_r5" in verdict.figures


@pytest.mark.parametrize(
    ("flags", "vnni"),
    [
        ("fpu sse2 avx2 fma", False),
        ("fpu avx2 avx512f avx512_vnni", True),
        ("fpu avx2 avx_vnni", True),
        ("fpu avx512f amx_bf16 amx_int8", True),
        ("fpu avx2 avx_vnni_int8x", False),
    ],
)
def test_int8_weights_keep_7_bits_unless_the_cpu_has_vnni(
    tmp_path: Path, flags: str, vnni: bool
) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n", encoding="utf-8")
    assert cpu_has_vnni(cpuinfo) is vnni


def test_an_unreadable_cpuinfo_counts_as_no_vnni(tmp_path: Path) -> None:
    assert cpu_has_vnni(tmp_path / "missing") is False


def test_a_verdict_reads_back_and_a_damaged_one_is_none(tmp_path: Path) -> None:
    verdict = Verdict(False, "why", {"cosine_min": 0.5})
    path = tmp_path / "gate.json"
    path.write_text(verdict.to_json())
    assert Verdict.read(path) == verdict
    path.write_text("{broken")
    assert Verdict.read(path) is None
    assert Verdict.read(tmp_path / "absent.json") is None


def tiny_runner(tmp_path: Path, photos: Path) -> str:
    settings = ModelSettings.model_validate(
        {"openvino_cache_dir": tmp_path / "ov", "runtime": "openvino", "cpu_precision": "int8"}
    )
    inputs = Int8Inputs(
        CropSpec(SIDE, SIDE, Image.Resampling.BILINEAR), (0.5,) * 3, (0.5,) * 3, Features(), photos
    )
    runner = build_runner(TinyBackbone(32), "tiny@int8", SIDE, Features(), settings, CPU, inputs)
    return str(runner.name)


def test_the_verdict_is_kept_and_the_next_start_follows_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    photos = generate(tmp_path / "photos", per_category=6).parent
    with caplog.at_level(logging.INFO, logger="services.embedder.runtimes.int8"):
        first = tiny_runner(tmp_path, photos)
    judged = [r for r in caplog.records if "accuracy gate" in r.getMessage()]
    assert len(judged) == 1
    verdict_files = list((tmp_path / "ov").glob("*-int8-*-gate.json"))
    assert len(verdict_files) == 1
    verdict = Verdict.read(verdict_files[0])
    assert verdict is not None
    assert first == ("openvino CPU int8" if verdict.passed else "openvino CPU f32")
    if verdict.passed:
        assert list((tmp_path / "ov").glob("*-int8-*.xml")), "the int8 model is kept"
    judged_at = verdict_files[0].stat().st_mtime_ns
    assert tiny_runner(tmp_path, photos) == first
    assert verdict_files[0].stat().st_mtime_ns == judged_at, "read, not judged again"


def test_efficientnet_lite0_int8_is_judged_on_real_weights_and_served_as_the_gate_says(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The gate of make test: efficientnet_lite0's real ImageNet weights, int8 asked for."""
    with caplog.at_level(logging.INFO, logger="services.embedder.runtimes.int8"):
        engine = build_engine("efficientnet_lite0", "pretrained", cpu_precision="int8")
    said = [r for r in caplog.records if "accuracy gate" in r.getMessage()]
    assert len(said) == 1, "the choice and its reason are said at start-up"
    passed = "passed" in said[0].getMessage()
    assert engine.device_name == ("openvino CPU int8" if passed else "openvino CPU f32")
    reason = str(getattr(said[0], "reason", ""))
    assert reason
    if not passed:
        assert "cosine" in reason or "recall@" in reason
