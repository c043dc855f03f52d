"""Dynamic micro-batching: concurrent requests share one forward pass."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numpy as np

from services.embedder.decoding.cpu_decode import Pixels
from services.embedder.models.localizer import Located
from services.embedder.runtimes.engine import InferenceEngine
from vrs.errors import Overloaded
from vrs.observability.metrics.embedder import EmbedderMetrics

log = logging.getLogger(__name__)

# What a queued image is for: a catalog photo's vector, a query's vector, or its main item.
Job = Literal["catalog", "query", "locate"]
_JOBS: tuple[Job, ...] = ("catalog", "query", "locate")
# An image, its caller's future (a vector, or a region for a locate job), when it was queued
# (loop time), and its job.
_Item = tuple[Pixels, "asyncio.Future[Any]", float, Job]
_Live = tuple[Pixels, "asyncio.Future[Any]", Job]


class MicroBatcher:
    """Collects images for up to max_wait after the first one (or until max_batch), runs one
    forward pass, and hands each caller its own row.

    Up to the engine's `parallelism` passes run at once; while they do, new images queue up
    and form the next batch, so under load batches fill without waiting at all. At most
    `max_queue` images wait: beyond that a caller gets Overloaded at once, rather than a wait
    no deadline would survive.
    """

    def __init__(
        self,
        engine: InferenceEngine,
        max_batch: int,
        max_wait_ms: float,
        max_queue: int,
        metrics: EmbedderMetrics,
    ) -> None:
        self._engine = engine
        self._metrics = metrics
        metrics.queue_depth.set_function(self._depth)
        self._max_batch = max_batch
        self._max_wait_s = max_wait_ms / 1000.0
        self._queue: asyncio.Queue[_Item] = asyncio.Queue(max_queue)
        # As many threads as the runtime runs passes at once (OpenVINO's streams; one for
        # torch, which already spreads a pass over every core: more would only contend). They
        # also keep the GIL-releasing forward pass off the event loop.
        self._executor = ThreadPoolExecutor(engine.parallelism, thread_name_prefix="vrs-model")
        self._slots = asyncio.Semaphore(engine.parallelism)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="micro-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while not self._queue.empty():
            _, future, _, _ = self._queue.get_nowait()
            if not future.done():
                future.set_exception(RuntimeError("embedder is shutting down"))
        self._executor.shutdown(wait=True)

    async def embed(self, pixels: Pixels, *, catalog: bool = True) -> np.ndarray:
        """The image's vector, as a catalog photo's or a query's; Overloaded at once when
        max_queue images are waiting."""
        vector: np.ndarray = await self._queued(pixels, "catalog" if catalog else "query")
        return vector

    async def locate(self, pixels: Pixels) -> Located:
        """The main item found in a whole photo (squashed); Overloaded as embed is."""
        found: Located = await self._queued(pixels, "locate")
        return found

    async def _queued(self, pixels: Pixels, job: Job) -> Any:
        self.start()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait((pixels, future, asyncio.get_running_loop().time(), job))
        except asyncio.QueueFull:
            raise Overloaded(
                f"embedder queue is full ({self._queue.qsize()} images waiting for the model); "
                "retry later"
            ) from None
        return await future

    async def warm_up(self) -> float:
        """One forward pass on a dummy batch, in the model's thread; its duration in seconds."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._engine.warm_up)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        passes: set[asyncio.Task[None]] = set()
        try:
            while True:
                # A batch forms only once a pass can take it: until then images keep queueing
                # and the next batch is fuller.
                await self._slots.acquire()
                try:
                    live = await self._next_batch(loop)
                except BaseException:
                    self._slots.release()
                    raise
                task = loop.create_task(self._pass(loop, live))
                passes.add(task)
                task.add_done_callback(passes.discard)
        finally:
            # Stopping forms no new batch, but the passes already running still answer.
            if passes:
                await asyncio.gather(*passes, return_exceptions=True)

    async def _next_batch(self, loop: asyncio.AbstractEventLoop) -> list[_Live]:
        while True:
            batch = [await self._queue.get()]
            deadline = loop.time() + self._max_wait_s
            while len(batch) < self._max_batch:
                remaining = deadline - loop.time()
                try:
                    if remaining <= 0:
                        batch.append(self._queue.get_nowait())
                    else:
                        batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                except (TimeoutError, asyncio.QueueEmpty):
                    break
            # Callers that gave up are skipped.
            live = [(p, f, job) for p, f, _, job in batch if not f.done()]
            if not live:
                continue
            started = loop.time()
            for _, future, queued_at, _ in batch:
                if not future.done():
                    self._metrics.queue_wait.observe(started - queued_at)
            return live

    async def _pass(self, loop: asyncio.AbstractEventLoop, live: list[_Live]) -> None:
        try:
            answers = await loop.run_in_executor(self._executor, self._timed_pass, live)
        except Exception as exc:
            log.exception("forward pass failed", extra={"batch": len(live)})
            for _, future, _ in live:
                if not future.done():
                    future.set_exception(exc)
            return
        finally:
            self._slots.release()
        for answer, (_, future, _) in zip(answers, live, strict=True):
            if not future.done():
                future.set_result(answer)

    def _timed_pass(self, live: list[_Live]) -> list[Any]:
        """Each item's answer in order: vectors for embed jobs, regions for locate jobs (a
        batch holding several kinds runs the model once for each)."""
        answers: list[Any] = [None] * len(live)
        for kind in _JOBS:
            indexes = [i for i, (_, _, job) in enumerate(live) if job == kind]
            if not indexes:
                continue
            pixels = [live[i][0] for i in indexes]
            started = time.perf_counter()
            done = (
                self._engine.locate(pixels)
                if kind == "locate"
                else list(self._engine.embed(pixels, catalog=kind == "catalog"))
            )
            seconds = time.perf_counter() - started
            self._metrics.forward_pass(len(pixels), seconds, located=kind == "locate")
            for i, answer in zip(indexes, done, strict=True):
                answers[i] = answer
        return answers

    def _depth(self) -> float:
        return self._queue.qsize()
