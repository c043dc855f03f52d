"""Which runtime runs the backbone: OpenVINO on CPU when it can, torch otherwise."""

from __future__ import annotations

import logging

import torch
from torch import nn

from services.embedder.models.features import Features
from services.embedder.runtimes.int8 import Int8Inputs
from services.embedder.runtimes.runner import FeatureRunner, TorchRunner
from vrs.errors import ConfigurationError
from vrs.settings import ModelSettings

log = logging.getLogger(__name__)

CPU_MAX_BATCH = 32
# With several OpenVINO streams a pass runs on one of them: small batches spread a burst over
# every stream (batch 1 already fills a stream; measured in benchmarks/embed_throughput.py).
STREAM_MAX_BATCH = 8
# A GPU only fills up with large batches; CUDA graphs are captured for each bucket up to it.
GPU_MAX_BATCH = 128


def pick_device(settings: ModelSettings) -> torch.device:
    """CUDA when asked for or (auto) present; ConfigurationError when asked for but absent."""
    cuda = torch.cuda.is_available()
    if settings.device == "cuda" and not cuda:
        raise ConfigurationError("VRS_MODEL_DEVICE=cuda but no CUDA device is available")
    if settings.device == "cpu" or not cuda:
        return torch.device("cpu")
    return torch.device("cuda")


def max_batch_for(device: torch.device, settings: ModelSettings, parallelism: int = 1) -> int:
    """Most images one forward pass takes: the setting, else 128 on a GPU, 8 per pass where
    the CPU runtime runs passes in parallel, and 32 where one pass takes every core."""
    if settings.max_batch_size:
        return settings.max_batch_size
    if device.type == "cuda":
        return GPU_MAX_BATCH
    return STREAM_MAX_BATCH if parallelism > 1 else CPU_MAX_BATCH


def build_runner(
    module: nn.Module,
    model_id: str,
    input_side: int,
    features: Features,
    settings: ModelSettings,
    device: torch.device,
    int8: Int8Inputs | None = None,
) -> FeatureRunner:
    """The runner for `device` and the settings; OpenVINO failures fall back to torch eager.
    `int8`: what quantising needs (None: int8 is never tried)."""
    if device.type == "cuda":
        from services.embedder.runtimes.cuda_runner import CudaGraphRunner

        return CudaGraphRunner(
            module, device, max_batch_for(device, settings), torch.float16, settings.cuda_graphs
        )
    if settings.runtime != "torch":
        runner = _openvino_runner(module, model_id, input_side, features, settings, int8)
        if runner is not None:
            return runner
    autocast = torch.bfloat16 if settings.cpu_precision == "bf16" else None
    return TorchRunner(module, device, autocast)


def _openvino_runner(
    module: nn.Module,
    model_id: str,
    input_side: int,
    features: Features,
    settings: ModelSettings,
    int8: Int8Inputs | None,
) -> FeatureRunner | None:
    cache_dir = settings.openvino_cache_dir.expanduser()
    try:
        from services.embedder.runtimes.openvino_runner import (
            OpenVinoRunner,
            cache_file_for,
            converted,
            cpu_runs_bf16,
            openvino_core,
        )

        core = openvino_core(cache_dir)
    except ImportError as exc:
        if settings.runtime == "openvino":
            raise ConfigurationError(
                f"VRS_MODEL_RUNTIME=openvino but openvino cannot be imported: {exc}"
            ) from exc
        log.info("openvino not installed; the model runs on torch eager")
        return None
    precision = settings.cpu_precision
    if precision == "auto":
        # int8 where bf16 is not native: served only if it passes the accuracy gate.
        precision = "bf16" if cpu_runs_bf16(core) else "int8"
    # A model the converter cannot trace, or a CPU plugin that refuses it, must not stop the
    # service: torch eager runs every module vrs defines.
    try:
        # Multi-scale variants feed the model several input sizes: keep its spatial size free.
        input_hw = (input_side, input_side) if features.scales == (1.0,) else None
        cache_file = cache_file_for(cache_dir, model_id, input_hw)
        model = converted(module, input_hw, core, cache_file)
        if precision == "int8" and int8 is not None and input_hw is not None:
            from services.embedder.runtimes.int8 import int8_or_fp32

            return int8_or_fp32(model, core, settings.openvino_streams, int8, cache_file)
        return OpenVinoRunner(
            model, "bf16" if precision == "bf16" else "f32", core, settings.openvino_streams
        )
    except Exception:
        log.exception("openvino conversion failed; the model runs on torch eager instead")
        return None
