"""Image bytes to vectors: decoded in a bounded pool, embedded in shared forward passes."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

from services.embedder.batcher import MicroBatcher
from services.embedder.decode import prepare
from services.embedder.model.backbones import BACKBONES
from services.embedder.model.engine import InferenceEngine
from services.embedder.model.weights import load_model
from vrs.catalog import Vector
from vrs.image_source import ImageFetcher, ImageInput, sha256_hex
from vrs.settings import ImageSettings, ModelSettings


@dataclass(frozen=True)
class EmbeddedImage:
    vector: Vector
    image_sha256: str


class ImageEmbedder:
    def __init__(
        self,
        engine: InferenceEngine,
        model: ModelSettings,
        images: ImageSettings,
        fetcher: ImageFetcher,
    ) -> None:
        self.engine = engine
        self.fetcher = fetcher
        self.model_id = engine.model_id
        self.dimension = engine.dimension
        self._crop = engine.backbone.crop
        self._max_pixels = images.max_pixels
        # Decoding and resizing hold the GIL only partly and must not stall the event loop;
        # the pool is bounded so a burst of uploads cannot take every core from the model.
        self._decode_pool = ThreadPoolExecutor(
            model.decode_workers, thread_name_prefix="vrs-decode"
        )
        self._batcher = MicroBatcher(engine, model.max_batch_size, model.max_batch_wait_ms)

    @classmethod
    def from_settings(cls, model: ModelSettings, images: ImageSettings) -> ImageEmbedder:
        backbone = BACKBONES[model.backbone]
        engine = InferenceEngine(backbone, load_model(backbone, model), model)
        return cls(engine, model, images, ImageFetcher(images))

    async def embed_input(self, image: ImageInput) -> EmbeddedImage:
        """Bytes or URI to a vector, with the image's content hash."""
        data = await self.fetcher.load(image)
        return EmbeddedImage(await self.embed(data), sha256_hex(data))

    async def embed(self, data: bytes) -> Vector:
        """One image's vector; InvalidImage when the bytes are not a usable image."""
        loop = asyncio.get_running_loop()
        pixels = await loop.run_in_executor(
            self._decode_pool, partial(prepare, data, self._max_pixels, self._crop)
        )
        return await self._batcher.embed(pixels)

    async def embed_many(self, images: list[bytes]) -> list[Vector | BaseException]:
        """Each image's vector or its error, in order; one bad image fails alone."""
        return list(await asyncio.gather(*(self.embed(d) for d in images), return_exceptions=True))

    async def close(self) -> None:
        await self._batcher.stop()
        self._decode_pool.shutdown(wait=True)
        await self.fetcher.close()
