"""One forward pass over a batch of prepared images, on the best device available."""

from __future__ import annotations

import contextlib
import logging
import threading
import time

import numpy as np
import torch
import torch.nn.functional as F

from services.embedder.decode import CropSpec, Pixels, with_crop_fraction
from services.embedder.model.backbones import Backbone
from services.embedder.model.features import Features
from services.embedder.model.pooling import l2_normalize, pool
from services.embedder.model.weights import LoadedModel
from vrs.errors import ConfigurationError
from vrs.settings import ModelSettings

log = logging.getLogger(__name__)

Vectors = np.ndarray


class InferenceEngine:
    """Runs the model. Not thread-safe by design: the batcher calls it from one thread."""

    def __init__(self, backbone: Backbone, loaded: LoadedModel, settings: ModelSettings) -> None:
        self.backbone = backbone
        self.model_id = loaded.model_id
        self.features = loaded.features
        # How images are resized and cropped for this model: the backbone's, or the variant's.
        self.crop: CropSpec = with_crop_fraction(backbone.crop, loaded.features.crop)
        self.dimension = backbone.dimension
        self.device = _pick_device(settings)
        if settings.torch_threads:
            torch.set_num_threads(settings.torch_threads)
        self._autocast_dtype: torch.dtype | None = None
        if self.device.type == "cuda":
            self._autocast_dtype = torch.float16
        elif settings.cpu_bf16:
            self._autocast_dtype = torch.bfloat16
        self._module = loaded.module.eval().to(self.device)
        self._module.to(memory_format=torch.channels_last)
        shape = (1, 3, 1, 1)
        self._mean = torch.tensor(backbone.mean, device=self.device).view(shape)
        self._std = torch.tensor(backbone.std, device=self.device).view(shape)
        self._lock = threading.Lock()
        self.forward_passes = 0
        self.images_embedded = 0
        self.warm_up_passes = 0  # not in forward_passes: those count real images only
        log.info(
            "inference engine ready",
            extra={
                "model_id": self.model_id,
                "device": str(self.device),
                "autocast": str(self._autocast_dtype),
            },
        )

    @property
    def device_name(self) -> str:
        suffix = f" ({self._autocast_dtype})" if self._autocast_dtype else ""
        return f"{self.device}{suffix}"

    def embed(self, batch: list[Pixels]) -> Vectors:
        """N prepared images (H x W x 3 uint8) to an N x dimension float32 array."""
        with self._lock:
            vectors = self._forward(batch)
            self.forward_passes += 1
            self.images_embedded += len(batch)
            return vectors

    def warm_up(self) -> float:
        """One forward pass on a blank image, so the first request does not pay for lazy
        initialisation (kernel selection, allocator growth); its duration in seconds."""
        side = self.crop.crop
        started = time.perf_counter()
        with self._lock:
            self._forward([np.zeros((side, side, 3), dtype=np.uint8)])
            self.warm_up_passes += 1
        return time.perf_counter() - started

    def _forward(self, batch: list[Pixels]) -> Vectors:
        with torch.inference_mode(), self._autocast():
            pixels = torch.from_numpy(np.stack(batch)).to(self.device, non_blocking=True)
            x = pixels.permute(0, 3, 1, 2).float().div_(255.0)
            x = (x - self._mean) / self._std
            pooled = describe(self._module, x, self.features)
            vectors: Vectors = pooled.cpu().numpy().astype(np.float32, copy=False)
            return vectors

    def _autocast(self) -> contextlib.AbstractContextManager[object]:
        if self._autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self._autocast_dtype)


def describe(module: torch.nn.Module, x: torch.Tensor, features: Features) -> torch.Tensor:
    """Normalised input (N x 3 x H x W) to N descriptors: the feature map of each scale (and
    its mirror image) pooled in fp32, averaged, then normalised as the variant says."""
    total = torch.zeros((), device=x.device)
    for scale in features.scales:
        scaled = x if scale == 1.0 else _rescale(x, scale)
        views = (scaled, scaled.flip(3)) if features.flip else (scaled,)
        for view in views:
            fmap = module(view.contiguous(memory_format=torch.channels_last))
            pooled = pool(fmap.float(), features)
            total = total + pooled
    descriptors = total / features.passes
    return l2_normalize(descriptors) if features.l2 else descriptors


def _rescale(x: torch.Tensor, scale: float) -> torch.Tensor:
    size = (max(32, round(x.shape[-2] * scale)), max(32, round(x.shape[-1] * scale)))
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)


def _pick_device(settings: ModelSettings) -> torch.device:
    cuda = torch.cuda.is_available()
    if settings.device == "cuda" and not cuda:
        raise ConfigurationError("VRS_MODEL_DEVICE=cuda but no CUDA device is available")
    if settings.device == "cpu" or not cuda:
        return torch.device("cpu")
    return torch.device("cuda")
