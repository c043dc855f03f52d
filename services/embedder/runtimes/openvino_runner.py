"""The backbone converted to OpenVINO: bf16 where the CPU runs it natively (int8 where it passes
the accuracy gate: see int8), a request pool."""

from __future__ import annotations

import logging
import os
import queue
import re
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

log = logging.getLogger(__name__)

Precision = Literal["bf16", "f32", "int8"]


def openvino_core(cache_dir: Path | None) -> Any:
    """An OpenVINO Core; with a writable `cache_dir`, compiled models are cached there."""
    import openvino as ov

    core = ov.Core()
    if cache_dir is not None:
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            core.set_property({"CACHE_DIR": str(cache_dir)})
        except (OSError, RuntimeError):
            log.warning(
                "openvino cache directory unusable; compiling at every start", exc_info=True
            )
    return core


def cache_file_for(cache_dir: Path, model_id: str, input_hw: tuple[int, int] | None) -> Path:
    """Where the converted model of `model_id` at that input size is kept, per OpenVINO
    version (its IR is not promised to read back across versions)."""
    import openvino as ov

    size = f"{input_hw[0]}x{input_hw[1]}" if input_hw else "any"
    version = ov.__version__.split("-")[0]
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{model_id}-{size}-ov{version}")
    return cache_dir / f"{stem}.xml"


def cpu_runs_bf16(core: Any) -> bool:
    """Whether the CPU computes bf16 natively (AVX512-BF16 or AMX), as OpenVINO reports it."""
    return "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")


class OpenVinoRunner:
    """Runs an OpenVINO model compiled for the CPU with the throughput hint.

    The throughput hint splits the cores into streams; each infer request runs on one, so the
    runner keeps a pool of as many requests as OpenVINO finds optimal and lets that many
    callers (the micro-batcher's passes) run at once.
    """

    def __init__(self, model: Any, precision: Precision, core: Any, streams: int = 0) -> None:
        """`model`: an OpenVINO model (converted(), or its int8 quantisation: its int8 layers
        run int8 whatever the hint, the others in f32)."""
        started = time.perf_counter()
        config: dict[str, Any] = {
            "PERFORMANCE_HINT": "THROUGHPUT",
            "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
        }
        if streams:
            config["NUM_STREAMS"] = streams
        self._compiled = core.compile_model(model, "CPU", config)
        count = max(1, int(self._compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
        self._requests: queue.Queue[Any] = queue.Queue(count)
        for _ in range(count):
            self._requests.put_nowait(self._compiled.create_infer_request())
        self.parallelism = count
        self.precision = precision
        self.name = f"openvino CPU {precision}"
        log.info(
            "openvino model compiled",
            extra={
                "precision": precision,
                "infer_requests": count,
                "streams": self._compiled.get_property("NUM_STREAMS"),
                "compile_ms": round((time.perf_counter() - started) * 1e3),
            },
        )

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        pixels = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
        # Blocks only when every request is busy, which the batcher's own bound prevents.
        request = self._requests.get()
        try:
            request.infer({0: pixels})
            # The output buffer belongs to the request and is reused by its next call.
            fmap = np.array(request.get_output_tensor(0).data, dtype=np.float32, copy=True)
        finally:
            self._requests.put_nowait(request)
        return torch.from_numpy(fmap)


def converted(
    module: nn.Module, input_hw: tuple[int, int] | None, core: Any, cache_file: Path | None
) -> Any:
    """The module as an OpenVINO model: read from `cache_file` when an earlier start saved it
    there (tracing takes seconds), else converted from torch and saved for the next start."""
    import openvino as ov

    if cache_file is not None and cache_file.is_file():
        try:
            return core.read_model(str(cache_file))
        except Exception:
            log.warning("cached openvino model unreadable; converting again", exc_info=True)
    side = input_hw or (224, 224)
    with torch.inference_mode():
        model = ov.convert_model(module.eval(), example_input=torch.zeros((1, 3, *side)))
    # Any batch; fixed spatial size unless the variant rescales the input (multi-scale).
    height, width = input_hw if input_hw else (-1, -1)
    model.reshape([-1, 3, height, width])
    if cache_file is not None:
        try:
            save_model(model, cache_file)
        except OSError:
            log.warning("could not cache the converted openvino model", exc_info=True)
    return model


def save_model(model: Any, path: Path) -> None:
    """Writes the model's .xml and .bin aside and renames them, so a concurrent start never
    reads half a file."""
    import openvino as ov

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial.xml")
    ov.save_model(model, str(partial), compress_to_fp16=False)
    partial.with_suffix(".bin").replace(path.with_suffix(".bin"))
    partial.replace(path)
