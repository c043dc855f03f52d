"""Image bytes to vectors: decoded in a bounded pool, embedded in shared forward passes."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar, cast

from services.embedder.decoding.cpu_decode import Pixels, prepare, to_pixels
from services.embedder.decoding.device_decode import choose_decoder, prepare_on_device
from services.embedder.decoding.large_decodes import LargeDecodeGate
from services.embedder.decoding.regions import (
    centred_region,
    decode_for_regions,
    padded_region,
    squashed,
)
from services.embedder.embedding.batcher import MicroBatcher
from services.embedder.models.backbones import BACKBONES
from services.embedder.models.localizer import MIN_SIDE, frames_the_item
from services.embedder.models.weights import load_model
from services.embedder.runtimes.engine import InferenceEngine
from vrs.catalog.vectors import Vector
from vrs.errors import Overloaded
from vrs.images.region import WHOLE, Region, RegionSource, UsedRegion
from vrs.images.source import ImageFetcher, ImageInput, sha256_hex
from vrs.observability.metrics.embedder import EmbedderMetrics
from vrs.settings import ImageSettings, ModelSettings

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class EmbeddedImage:
    """An image's vector and the SHA-256 of its bytes."""

    vector: Vector
    image_sha256: str


@dataclass(frozen=True)
class QueryVector:
    """A query photo's vector, and the part of the photo it describes."""

    vector: Vector
    region: UsedRegion


class ImageEmbedder:
    """Image bytes or URIs to vectors: bounded decoding, then shared forward passes."""

    def __init__(
        self,
        engine: InferenceEngine,
        model: ModelSettings,
        images: ImageSettings,
        fetcher: ImageFetcher,
        metrics: EmbedderMetrics | None = None,
        device_decode: bool = True,
    ) -> None:
        self.engine = engine
        # The embedder's own metrics; the process registers them (see vrs.observability.metrics).
        self.metrics = metrics or EmbedderMetrics()
        self.metrics.device.labels(engine.device_name, engine.model_id).set(1)
        self.fetcher = fetcher
        self.model_id = engine.model_id
        self.dimension = engine.dimension
        self._crop = engine.crop
        self._max_pixels = images.max_pixels
        # On CUDA, JPEGs decode on the GPU (nvJPEG) unless told not to (benchmarks compare).
        self._device = engine.device
        self._device_decode = device_decode
        # Decoding and resizing hold the GIL only partly and must not stall the event loop;
        # the pool is bounded so a burst of uploads cannot take every core from the model.
        self._decode_pool = ThreadPoolExecutor(
            model.decode_workers, thread_name_prefix="vrs-decode"
        )
        # The pool's own work queue is unbounded: these slots bound it. A slot is freed when
        # the decode itself ends (or is cancelled before it starts), not when its caller
        # gives up, so callers that time out cannot pile up work behind the bound.
        self._max_decode_queue = model.max_decode_queue
        self._decode_slots = threading.BoundedSemaphore(model.max_decode_queue)
        self._large_decodes = LargeDecodeGate(
            images.large_decode_pixels, images.large_decode_concurrency
        )
        self._batcher = MicroBatcher(
            engine,
            model.max_batch_size or engine.max_batch,
            model.max_batch_wait_ms,
            model.max_queue,
            self.metrics,
        )

    @classmethod
    def from_settings(
        cls, model: ModelSettings, images: ImageSettings, fetcher: ImageFetcher
    ) -> ImageEmbedder:
        """Loads the configured model; `fetcher` is the process's, for URIs in embed_input."""
        backbone = BACKBONES[model.backbone]
        engine = InferenceEngine(backbone, load_model(backbone, model), model)
        return cls(engine, model, images, fetcher)

    async def warm_up(self) -> None:
        """One forward pass before serving (once per engine), so no request pays for it."""
        if self.engine.warm_up_passes:
            return
        seconds = await self._batcher.warm_up()
        log.info("model warmed up", extra={"model_id": self.model_id, "ms": round(seconds * 1e3)})

    async def embed_input(self, image: ImageInput) -> EmbeddedImage:
        """Bytes or URI to a vector, with the image's content hash."""
        data = await self.fetcher.load(image)
        return EmbeddedImage(await self.embed(data), sha256_hex(data))

    async def embed(self, data: bytes, *, catalog: bool = True) -> Vector:
        """One image's vector, as a catalog photo's (what the catalog stores) or a query's;
        InvalidImage when the bytes are not a usable image, Overloaded at once when the
        decode or model queue is full."""
        pixels = await self._decoded(lambda: self._timed_prepare(data))
        return await self._batcher.embed(pixels, catalog=catalog)

    async def embed_query(self, data: bytes, region: Region | None = None) -> QueryVector:
        """A query photo's vector: of `region` when given, else of the main item found in it
        (VRS_MODEL_AUTO_REGION: one pass to find it on the whole frame, one on its region),
        else of the whole photo; with the region used."""
        if region is None and self.engine.localizer is None:
            vector = await self.embed(data, catalog=False)
            return QueryVector(vector, UsedRegion(WHOLE, RegionSource.WHOLE))
        smallest = MIN_SIDE if region is None else min(region.width, region.height)
        spec, limit, gate = self._crop, self._max_pixels, self._large_decodes
        image = await self._decoded(lambda: decode_for_regions(data, limit, spec, smallest, gate))
        try:
            if region is not None:
                pixels = await self._decoded(lambda: padded_region(image, region, spec))
                return QueryVector(
                    await self._batcher.embed(pixels, catalog=False),
                    UsedRegion(region, RegionSource.GIVEN),
                )
            whole = await self._decoded(lambda: squashed(image, spec))
            found = await self._batcher.locate(whole)
            if frames_the_item(found, image.size, spec):
                # The photo is already the item: its usual framing matches the catalog's best.
                pixels = await self._decoded(lambda: to_pixels(image, spec))
                used = UsedRegion(WHOLE, RegionSource.WHOLE)
            else:
                pixels = await self._decoded(lambda: centred_region(image, found.region, spec))
                used = UsedRegion(found.region, RegionSource.FOUND)
            return QueryVector(await self._batcher.embed(pixels, catalog=False), used)
        finally:
            image.close()

    async def _decoded(self, job: Callable[[], T]) -> T:
        """`job` (decoding or framing pixels) in the bounded decode pool."""
        return await asyncio.wrap_future(self._submit(job))

    async def embed_many(self, images: list[bytes]) -> list[Vector | BaseException]:
        """Each image's vector or its error, in order; one bad image fails alone."""
        return list(await asyncio.gather(*(self.embed(d) for d in images), return_exceptions=True))

    def _submit(self, job: Callable[[], T]) -> Future[T]:
        if not self._decode_slots.acquire(blocking=False):
            raise Overloaded(
                f"embedder decode queue is full ({self._max_decode_queue} images being decoded "
                "or waiting); retry later"
            )
        depth = self.metrics.decode_queue_depth
        depth.inc()
        try:
            future = self._decode_pool.submit(job)
        except BaseException:
            self._decode_slots.release()
            depth.dec()
            raise
        future.add_done_callback(self._decode_done)
        return future

    def _decode_done(self, _: Future[T]) -> None:
        self._decode_slots.release()
        self.metrics.decode_queue_depth.dec()

    def _timed_prepare(self, data: bytes) -> Pixels:
        started = time.perf_counter()
        try:
            if self._device_decode and choose_decoder(data, self._device) == "device":
                on_device = prepare_on_device(
                    data, self._max_pixels, self._crop, self._device, self._large_decodes
                )
                if on_device is not None:
                    # The engine takes device tensors as they are (engine._normalised); Pixels
                    # names the host form the rest of the pipeline passes along.
                    return cast(Pixels, on_device)
            return prepare(data, self._max_pixels, self._crop, self._large_decodes)
        finally:
            self.metrics.decode.observe(time.perf_counter() - started)

    async def close(self) -> None:
        """Stops the model and the decode pool; the fetcher belongs to whoever built it."""
        await self._batcher.stop()
        self._decode_pool.shutdown(wait=True)
