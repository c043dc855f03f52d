"""What runs a backbone: normalised input in, its last feature map out, on some runtime."""

from __future__ import annotations

import contextlib
from typing import Protocol

import torch
from torch import nn


class FeatureRunner(Protocol):
    """Runs a backbone: N x 3 x H x W normalised float input to its N x C x h x w feature map."""

    # What runs the model, for logs, metrics and GetStats, e.g. "openvino CPU bf16".
    name: str
    # How many calls may run at once from different threads (the runtime's own request pool).
    parallelism: int

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...


class TorchRunner:
    """torch eager on the engine's device, channels_last, with optional autocast."""

    parallelism = 1

    def __init__(self, module: nn.Module, device: torch.device, autocast: torch.dtype | None):
        self._module = module.eval().to(device)
        self._module.to(memory_format=torch.channels_last)
        self._device = device
        self._autocast = autocast
        suffix = f" {str(autocast).removeprefix('torch.')}" if autocast else " fp32"
        self.name = f"torch {device.type}{suffix}"

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(), self._autocast_context():
            fmap: torch.Tensor = self._module(x.contiguous(memory_format=torch.channels_last))
            return fmap

    def _autocast_context(self) -> contextlib.AbstractContextManager[object]:
        if self._autocast is None:
            return contextlib.nullcontext()
        return torch.autocast(self._device.type, dtype=self._autocast)
