"""Building settings and embedders for tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.embedder.embedding.embedder import ImageEmbedder
from services.embedder.models.backbones import BACKBONES
from services.embedder.models.weights import load_model
from services.embedder.runtimes.engine import InferenceEngine
from vrs.images.source import ImageFetcher
from vrs.settings import ImageSettings, ModelSettings, Settings


class FetcherOwningEmbedder(ImageEmbedder):
    """An embedder that closes its fetcher too: a test builds one fetcher per embedder."""

    async def close(self) -> None:
        await super().close()
        await self.fetcher.close()


def build_engine(backbone: str, weights: str = "pretrained", **model: object) -> InferenceEngine:
    """An engine of `backbone` with the given model settings (VRS_MODEL_* names, lower case)."""
    settings = ModelSettings.model_validate({"backbone": backbone, "weights": weights, **model})
    spec = BACKBONES[backbone]
    return InferenceEngine(spec, load_model(spec, settings), settings)


def make_embedder(
    engine: InferenceEngine, images: ImageSettings | None = None, **model: object
) -> ImageEmbedder:
    images = images or ImageSettings()
    return FetcherOwningEmbedder(engine, ModelSettings(**model), images, ImageFetcher(images))  # type: ignore[arg-type]


def settings_for(tmp_path: Path, **sections: dict[str, Any]) -> Settings:
    """Settings for a server on a free loopback port with its own Qdrant Edge directory.

    Sections given here are validated as data, not read from the environment.
    """
    base: dict[str, dict[str, Any]] = {
        "server": {"host": "127.0.0.1", "port": 0, "shutdown_grace_s": 2.0},
        "store": {"data_dir": tmp_path / "qdrant-edge"},
        "log": {"level": "WARNING"},
    }
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    return Settings.model_validate(base)
