"""Finding real weights for a backbone, or failing loudly: never silently random."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from services.embedder.models.backbones import Backbone
from services.embedder.models.features import Features, parse_features
from vrs.errors import WeightsUnavailable
from vrs.settings import ModelSettings

log = logging.getLogger(__name__)

RANDOM_SEED = 0
IMAGENET_CLASSES = 1000


@dataclass(frozen=True)
class LoadedModel:
    """A backbone's module with its weights, the features variant, and the model id of both."""

    module: nn.Module
    model_id: str
    source: str
    features: Features
    # The ImageNet classifier's weights (1000 x dimension), for finding the item in a photo.
    classifier: torch.Tensor


def load_model(backbone: Backbone, settings: ModelSettings) -> LoadedModel:
    """The backbone with its weights and the configured features variant (VRS_MODEL_FEATURES)."""
    features = parse_features(settings.features)
    identity = backbone.identity(features)
    if settings.weights == "random":
        # Seeded so that every process (embedder, search, tests) builds the same network.
        torch.manual_seed(RANDOM_SEED)
        module = backbone.build()
        classifier = torch.randn(IMAGENET_CLASSES, backbone.dimension) * 0.01
        log.warning(
            "model has RANDOM weights: vectors carry no visual meaning (tests/benchmarks only)",
            extra={"backbone": backbone.name},
        )
        model_id = f"{identity}@random-seed{RANDOM_SEED}"
        return LoadedModel(module, model_id, "random", features, classifier)
    path, source = find_weights(backbone, settings)
    module = backbone.build()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        backbone.load_state(module, state)
        classifier = state[backbone.classifier_key].float()
        if tuple(classifier.shape) != (IMAGENET_CLASSES, backbone.dimension):
            raise ValueError(f"classifier {tuple(classifier.shape)} is not 1000 x dimension")
    except Exception as exc:
        raise WeightsUnavailable(
            f"weights file {path} does not fit {backbone.name}: {exc}"
        ) from exc
    model_id = f"{identity}@{_sha256_prefix(path)}"
    log.info(
        "model weights loaded", extra={"model_id": model_id, "path": str(path), "source": source}
    )
    return LoadedModel(module, model_id, source, features, classifier)


def find_weights(backbone: Backbone, settings: ModelSettings) -> tuple[Path, str]:
    """The first of: explicit path, torch hub cache, packaged file, torchvision download."""
    tried: list[str] = []
    if settings.weights_path is not None:
        if settings.weights_path.is_file():
            return settings.weights_path, "VRS_MODEL_WEIGHTS_PATH"
        tried.append(f"VRS_MODEL_WEIGHTS_PATH={settings.weights_path}: no such file")
    cached = _hub_cache_file(backbone)
    if cached is not None:
        if cached.is_file():
            return cached, "torch hub cache"
        tried.append(f"torch hub cache {cached}: absent")
    if backbone.packaged_weights is not None:
        try:
            packaged = Path(backbone.packaged_weights())
            if packaged.is_file():
                return packaged, "installed package"
            tried.append(f"installed package file {packaged}: absent")
        except ImportError as exc:
            tried.append(f"weights package not installed: {exc}")
    if backbone.download_url and settings.allow_download:
        try:
            torch.hub.load_state_dict_from_url(
                backbone.download_url, map_location="cpu", progress=False, check_hash=True
            )
            if cached is not None and cached.is_file():
                return cached, "download"
        except Exception as exc:
            tried.append(f"download {backbone.download_url}: {type(exc).__name__}: {exc}")
    elif backbone.download_url:
        tried.append("download: disabled (VRS_MODEL_ALLOW_DOWNLOAD=false)")
    raise WeightsUnavailable(
        f"no pretrained weights for {backbone.name}. Provide them one of three ways: "
        f"(1) set VRS_MODEL_WEIGHTS_PATH to a weights file; "
        f"(2) put {_hub_file_name(backbone) or 'the file'} in the torch hub cache "
        f"({Path(torch.hub.get_dir()) / 'checkpoints'}, moved by TORCH_HOME); "
        f"(3) let torchvision download it on a machine with internet "
        f"(VRS_MODEL_ALLOW_DOWNLOAD=true). Tried: " + "; ".join(tried)
    )


def _hub_file_name(backbone: Backbone) -> str | None:
    return backbone.download_url.rsplit("/", 1)[-1] if backbone.download_url else None


def _hub_cache_file(backbone: Backbone) -> Path | None:
    name = _hub_file_name(backbone)
    return Path(torch.hub.get_dir()) / "checkpoints" / name if name else None


def _sha256_prefix(path: Path, length: int = 8) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:length]
