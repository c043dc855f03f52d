"""One forward pass over a batch of prepared images, on the best runtime available."""

from __future__ import annotations

import logging
import threading
import time

import numpy as np
import torch

from services.embedder.decoding.cpu_decode import CropSpec, Pixels, with_crop_fraction
from services.embedder.models.backbones import Backbone
from services.embedder.models.descriptors import describe
from services.embedder.models.localizer import Localizer, Located
from services.embedder.models.weights import LoadedModel
from services.embedder.runtimes.choice import build_runner, max_batch_for, pick_device
from services.embedder.runtimes.cuda_runner import CudaGraphRunner
from services.embedder.runtimes.int8 import Int8Inputs
from services.embedder.runtimes.runner import FeatureRunner
from vrs.settings import ModelSettings

log = logging.getLogger(__name__)

Vectors = np.ndarray


class InferenceEngine:
    """Runs the model: up to `parallelism` passes at once, as the runtime allows."""

    def __init__(self, backbone: Backbone, loaded: LoadedModel, settings: ModelSettings) -> None:
        self.backbone = backbone
        self.model_id = loaded.model_id
        self.features = loaded.features
        # How images are resized and cropped for this model: the backbone's, or the variant's.
        self.crop: CropSpec = with_crop_fraction(backbone.crop, loaded.features.crop)
        self.dimension = backbone.dimension
        self.device = pick_device(settings)
        if settings.torch_threads:
            torch.set_num_threads(settings.torch_threads)
        # Random weights cannot be judged by retrieval (nothing is similar): int8 not tried.
        int8 = (
            None
            if loaded.source == "random"
            else Int8Inputs(
                self.crop, backbone.mean, backbone.std, loaded.features, settings.int8_photos
            )
        )
        self.runner: FeatureRunner = build_runner(
            loaded.module,
            self.model_id,
            self.crop.crop,
            loaded.features,
            settings,
            self.device,
            int8,
        )
        # Finds the main item of a query photo (None: auto regions off).
        self.localizer = (
            Localizer.for_classes(loaded.classifier.to(self.device), settings.region_classes)
            if settings.auto_region
            else None
        )
        # Passes in flight at once: the runtime's request pool (OpenVINO streams), else one.
        self.parallelism = self.runner.parallelism
        self.max_batch = max_batch_for(self.device, settings, self.parallelism)
        shape = (1, 3, 1, 1)
        self._mean = torch.tensor(backbone.mean, device=self.device).view(shape)
        self._std = torch.tensor(backbone.std, device=self.device).view(shape)
        self._counts = threading.Lock()
        self.forward_passes = 0
        self.images_embedded = 0
        self.warm_up_passes = 0  # not in forward_passes: those count real images only
        log.info(
            "inference engine ready",
            extra={
                "model_id": self.model_id,
                "runtime": self.runner.name,
                "parallelism": self.parallelism,
            },
        )

    @property
    def device_name(self) -> str:
        """What runs the model, e.g. "openvino CPU bf16" or "torch cuda float16"."""
        return self.runner.name

    def embed(self, batch: list[Pixels], *, catalog: bool = True) -> Vectors:
        """N prepared images (H x W x 3 uint8) to an N x dimension float32 array: as catalog
        photos (the variant's catalog views) or as queries."""
        vectors = self._forward(batch, catalog)
        with self._counts:
            self.forward_passes += 1
            self.images_embedded += len(batch)
        return vectors

    def locate(self, batch: list[Pixels]) -> list[Located]:
        """The main item found in each of N whole photos (squashed to the input size)."""
        if self.localizer is None:
            raise RuntimeError("auto regions are off (VRS_MODEL_AUTO_REGION)")
        with torch.inference_mode():
            fmaps = self.runner(self._normalised(batch)).to(self.device)
            found = [self.localizer.locate(fmap) for fmap in fmaps]
        with self._counts:
            self.forward_passes += 1
        return found

    def warm_up(self) -> float:
        """One forward pass per parallel slot on a blank image, so the first requests do not
        pay for lazy initialisation (kernel selection, allocator growth); seconds taken."""
        side = self.crop.crop
        started = time.perf_counter()
        blank = np.zeros((side, side, 3), dtype=np.uint8)
        # One after the other: the runner's request pool hands each call the next request, so
        # every one is warmed. Concurrent first passes (one thread per request) hung two of
        # this machine's test starts, racing lazy initialisation in torch or OpenVINO.
        for _ in range(self.parallelism):
            self._forward([blank])
        if isinstance(self.runner, CudaGraphRunner):
            # A graph is captured per batch bucket: warm every one, so no request pays for it.
            for size in self.runner.buckets:
                for _ in range(self.runner.warm_up_calls):
                    self._forward([blank] * size)
        with self._counts:
            self.warm_up_passes += 1
        return time.perf_counter() - started

    def _forward(self, batch: list[Pixels], catalog: bool = False) -> Vectors:
        with torch.inference_mode():
            x = self._normalised(batch)
            pooled = describe(self.runner, x, self.features, catalog=catalog)
            vectors: Vectors = pooled.cpu().numpy().astype(np.float32, copy=False)
            return vectors

    def _normalised(self, batch: list[Pixels]) -> torch.Tensor:
        # Decoded on the device already (GPU JPEG decoding), possibly beside images of other
        # formats decoded on the host.
        rows: dict[int, torch.Tensor] = {}
        for i, item in enumerate(batch):
            if isinstance(item, torch.Tensor):
                rows[i] = item
        if not rows:
            pixels = self._to_device(batch)
        else:
            on_host = [i for i in range(len(batch)) if i not in rows]
            if on_host:
                copied = self._to_device([batch[i] for i in on_host])
                rows.update(zip(on_host, copied.unbind(0), strict=True))
            pixels = torch.stack([rows[i] for i in range(len(batch))]).to(self.device)
        x = pixels.permute(0, 3, 1, 2).float().div_(255.0)
        return (x - self._mean) / self._std

    def _to_device(self, batch: list[Pixels]) -> torch.Tensor:
        if self.device.type != "cuda":
            return torch.from_numpy(np.stack(batch))
        # Stacked straight into pinned pages (torch's caching host allocator reuses them):
        # the copy runs asynchronously, with no extra host copy to pin.
        first = np.asarray(batch[0])
        host = torch.empty((len(batch), *first.shape), dtype=torch.uint8, pin_memory=True)
        np.stack(batch, out=host.numpy())
        return host.to(self.device, non_blocking=True)
