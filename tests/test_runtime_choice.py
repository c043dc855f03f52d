"""Which runtime runs the model, what OpenVINO keeps on disk, and how many passes run at once."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from services.embedder.embedding.batcher import MicroBatcher
from services.embedder.models.features import Features
from services.embedder.runtimes.choice import build_runner
from services.embedder.runtimes.openvino_runner import (
    OpenVinoRunner,
    cache_file_for,
    cpu_runs_bf16,
    openvino_core,
)
from services.embedder.runtimes.runner import FeatureRunner, TorchRunner
from tests.support.tiny_model import TinyBackbone
from vrs.observability.metrics.embedder import EmbedderMetrics
from vrs.settings import ModelSettings

CPU = torch.device("cpu")
SIDE = 32


class _RefusesToTrace(TinyBackbone):
    """Fails on the all-zero example input the converter traces with, works on real images."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not x.any():
            raise RuntimeError("this module cannot be traced")
        return super().forward(x)


def runner_for(module: nn.Module, tmp_path: Path, **model: object) -> FeatureRunner:
    settings = ModelSettings.model_validate({"openvino_cache_dir": tmp_path / "ov", **model})
    return build_runner(module, "tiny@test", SIDE, Features(), settings, CPU)


def sample(n: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).normal(size=(n, 3, SIDE, SIDE))).float()


def test_auto_runs_openvino_in_bf16_exactly_where_the_cpu_computes_bf16(tmp_path: Path) -> None:
    runner = runner_for(TinyBackbone(), tmp_path)
    expected = "bf16" if cpu_runs_bf16(openvino_core(None)) else "f32"
    assert isinstance(runner, OpenVinoRunner)
    assert runner.name == f"openvino CPU {expected}"


@pytest.mark.parametrize(
    ("runtime", "precision", "name"),
    [
        ("torch", "auto", "torch cpu fp32"),
        ("torch", "bf16", "torch cpu bfloat16"),
        ("openvino", "fp32", "openvino CPU f32"),
        ("openvino", "bf16", "openvino CPU bf16"),
    ],
)
def test_runtime_and_precision_settings_choose_the_runner(
    tmp_path: Path, runtime: str, precision: str, name: str
) -> None:
    runner = runner_for(TinyBackbone(), tmp_path, runtime=runtime, cpu_precision=precision)
    assert runner.name == name


def test_openvino_fp32_computes_what_torch_computes(tmp_path: Path) -> None:
    module = TinyBackbone()
    openvino = runner_for(module, tmp_path, runtime="openvino", cpu_precision="fp32")
    torch_runner = TorchRunner(TinyBackbone(), CPU, None)
    x = sample()
    assert isinstance(openvino, OpenVinoRunner)
    np.testing.assert_allclose(openvino(x).numpy(), torch_runner(x).numpy(), atol=1e-4)


def test_a_module_openvino_cannot_convert_falls_back_to_torch_eager(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        runner = runner_for(_RefusesToTrace(), tmp_path, runtime="openvino")
    assert isinstance(runner, TorchRunner)
    assert any("openvino conversion failed" in r.message for r in caplog.records)
    assert runner(sample()).shape == (2, 16, SIDE - 2, SIDE - 2)


def test_the_converted_model_is_kept_on_disk_and_read_back(tmp_path: Path) -> None:
    first = runner_for(TinyBackbone(), tmp_path, runtime="openvino", cpu_precision="fp32")
    saved = cache_file_for(tmp_path / "ov", "tiny@test", (SIDE, SIDE))
    assert saved.is_file() and saved.with_suffix(".bin").is_file()
    # A module with other weights proves the second runner read the file, not the module.
    torch.manual_seed(1)
    other = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3))
    second = runner_for(other, tmp_path, runtime="openvino", cpu_precision="fp32")
    x = sample()
    assert isinstance(first, OpenVinoRunner) and isinstance(second, OpenVinoRunner)
    np.testing.assert_array_equal(first(x).numpy(), second(x).numpy())


def test_an_unreadable_cached_model_is_converted_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    saved = cache_file_for(tmp_path / "ov", "tiny@test", (SIDE, SIDE))
    saved.parent.mkdir(parents=True)
    saved.write_text("<not an openvino model")
    with caplog.at_level(logging.WARNING):
        runner = runner_for(TinyBackbone(), tmp_path, runtime="openvino", cpu_precision="fp32")
    assert isinstance(runner, OpenVinoRunner)
    assert any("converting again" in r.message for r in caplog.records)
    expected = TorchRunner(TinyBackbone(), CPU, None)(sample())
    np.testing.assert_allclose(runner(sample()).numpy(), expected.numpy(), atol=1e-4)


def test_an_unwritable_cache_directory_still_serves(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory should be")
    runner = runner_for(
        TinyBackbone(), tmp_path, runtime="openvino", openvino_cache_dir=blocker / "ov"
    )
    assert isinstance(runner, OpenVinoRunner)
    assert runner(sample()).shape == (2, 16, SIDE - 2, SIDE - 2)


def test_parallel_callers_of_one_openvino_runner_get_their_own_feature_maps(
    tmp_path: Path,
) -> None:
    runner = runner_for(TinyBackbone(), tmp_path, runtime="openvino", openvino_streams=2)
    assert isinstance(runner, OpenVinoRunner) and runner.parallelism >= 2
    inputs = [sample(3, seed) for seed in range(8)]
    expected = [runner(x).numpy() for x in inputs]
    results: list[np.ndarray | None] = [None] * len(inputs)

    def call(i: int) -> None:
        results[i] = runner(inputs[i]).numpy()

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(inputs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for got, want in zip(results, expected, strict=True):
        np.testing.assert_array_equal(got, want)


class _RendezvousEngine:
    """An engine whose passes all wait for `parallelism` of them to be running at once: with
    fewer passes in flight, the batcher's callers time out."""

    def __init__(self, parallelism: int) -> None:
        self.parallelism = parallelism
        self._barrier = threading.Barrier(parallelism, timeout=10)

    def embed(self, batch: list[np.ndarray], *, catalog: bool = True) -> np.ndarray:
        self._barrier.wait()
        return np.stack([np.full(2, float(p.flat[0]), dtype=np.float32) for p in batch])


async def test_the_batcher_runs_as_many_passes_at_once_as_the_engine_allows() -> None:
    engine = _RendezvousEngine(parallelism=2)
    batcher = MicroBatcher(engine, 1, 0.0, 8, EmbedderMetrics())  # type: ignore[arg-type]
    try:
        rows = await asyncio.wait_for(
            asyncio.gather(*(batcher.embed(np.full((1,), i, dtype=np.uint8)) for i in range(4))),
            timeout=30,
        )
    finally:
        await batcher.stop()
    assert [row[0] for row in rows] == [0.0, 1.0, 2.0, 3.0]
