"""Building engines and embedders for tests (and their server settings: settings_for, from
tests.support.server_settings, which needs no model stack)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from services.embedder.embedding.embedder import ImageEmbedder
from services.embedder.models.backbones import BACKBONES
from services.embedder.models.weights import load_model
from services.embedder.runtimes.engine import InferenceEngine
from tests.support.server_settings import settings_for
from vrs.images.source import ImageFetcher
from vrs.settings import ImageSettings, ModelSettings

__all__ = [
    "FetcherOwningEmbedder",
    "build_engine",
    "make_embedder",
    "open_embedder",
    "settings_for",
]


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


@asynccontextmanager
async def open_embedder(
    engine: InferenceEngine, images: ImageSettings | None = None
) -> AsyncIterator[ImageEmbedder]:
    """make_embedder's embedder, closed (with its fetcher) on the way out."""
    embedder = make_embedder(engine, images)
    yield embedder
    await embedder.close()
