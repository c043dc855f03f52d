"""A backbone of two convolutions: converted, quantised and run by OpenVINO in seconds."""

from __future__ import annotations

import torch
from torch import nn


class TinyBackbone(nn.Module):
    """Two seeded convolutions giving a `width`-channel feature map."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(
            nn.Conv2d(3, width // 2, 3, padding=1), nn.ReLU(), nn.Conv2d(width // 2, width, 3)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.body(x)
        return out
