"""The GPU runner: fp16, channels_last, one CUDA graph per batch bucket (torch.compile)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import torch
import torch.nn.functional as F
from torch import nn

log = logging.getLogger(__name__)

# Smallest bucket first; a pass pads its batch up to the next one.
POWERS_OF_TWO = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


def batch_buckets(max_batch: int) -> tuple[int, ...]:
    """The batch sizes a graph is captured for: powers of two below `max_batch`, then
    `max_batch` itself (so a full pass is never padded beyond it)."""
    if max_batch < 1:
        raise ValueError(f"max_batch must be at least 1, not {max_batch}")
    return (*(b for b in POWERS_OF_TWO if b < max_batch), max_batch)


def bucket_for(size: int, buckets: tuple[int, ...]) -> int:
    """The smallest bucket holding `size` images."""
    for bucket in buckets:
        if bucket >= size:
            return bucket
    raise ValueError(f"a batch of {size} is larger than the largest bucket ({buckets[-1]})")


def padded(x: torch.Tensor, bucket: int) -> torch.Tensor:
    """`x` (N x ...) with zero rows appended up to `bucket` rows."""
    missing = bucket - x.shape[0]
    if missing == 0:
        return x
    # F.pad pads the last dimensions first: the batch dimension comes last in its list.
    return F.pad(x, (0, 0) * (x.dim() - 1) + (0, missing))


class CudaGraphRunner:
    """Runs the backbone in `dtype` with channels_last, compiled once per batch bucket (CUDA
    graphs on a GPU, torch.compile's reduce-overhead mode); a batch is padded to its bucket
    and its rows sliced back. Compilation failures fall back to eager (logged)."""

    parallelism = 1
    # Calls per bucket before its graph replays: compile and warm-up run, recording, replay.
    warm_up_calls = 3

    def __init__(
        self,
        module: nn.Module,
        device: torch.device,
        max_batch: int,
        dtype: torch.dtype = torch.float16,
        compile_graphs: bool = True,
    ) -> None:
        self._module = module.eval().to(device=device, dtype=dtype)
        self._module.to(memory_format=torch.channels_last)
        self._device = device
        self._dtype = dtype
        self.buckets = batch_buckets(max_batch)
        self._compiled: Callable[[torch.Tensor], torch.Tensor] | None = None
        if compile_graphs:
            self._compiled = self._compile()
        precision = str(dtype).removeprefix("torch.")
        graphs = " cuda-graphs" if self._compiled is not None else ""
        self.name = f"torch {device.type} {precision}{graphs}"
        # CUDA graph trees are per thread: capturing in one thread and replaying in another
        # records again (and keeps a second memory pool). Every call runs in this one thread.
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="vrs-cuda-graphs")

    @property
    def compiled(self) -> bool:
        """Whether passes run the compiled graphs (False after a fallback to eager)."""
        return self._compiled is not None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self._thread.submit(self._run, x).result()

    def close(self) -> None:
        """Stops the runner's thread."""
        self._thread.shutdown(wait=True)

    def _compile(self) -> Callable[[torch.Tensor], torch.Tensor] | None:
        # Each (bucket, input side) compiles anew; past dynamo's limit (8) further shapes would
        # silently run eagerly. Multi-scale variants multiply the shapes.
        shapes = 4 * len(self.buckets)
        if torch._dynamo.config.recompile_limit < shapes:
            torch._dynamo.config.recompile_limit = shapes
        try:
            # Static shapes: one graph per (bucket, input side); dynamic shapes would give up
            # the captured graphs that make small batches cheap.
            compiled: Callable[[torch.Tensor], torch.Tensor] = torch.compile(
                self._module, mode="reduce-overhead", dynamic=False, fullgraph=False
            )
            return compiled
        except Exception:
            log.exception("torch.compile failed; the model runs eagerly instead")
            return None

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.shape[0]
        bucket = bucket_for(rows, self.buckets)
        with torch.inference_mode():
            xp = padded(x, bucket).to(self._device, self._dtype, memory_format=torch.channels_last)
            fmap = self._forward(xp)
            # A graph's output lives in its memory pool and is overwritten by the next replay:
            # keep a copy of the real rows only.
            return fmap[:rows].clone()

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        compiled = self._compiled
        if compiled is not None:
            try:
                if self._device.type == "cuda":
                    torch.compiler.cudagraph_mark_step_begin()  # type: ignore[no-untyped-call]
                out: torch.Tensor = compiled(x)
                return out
            except Exception:
                # Compilation is lazy: a backend that cannot build this shape (no Triton, an
                # unsupported op) fails on the first call. Eager runs every module vrs defines.
                self._compiled = None
                self.name = self.name.removesuffix(" cuda-graphs")
                log.exception("compiled model failed; the model runs eagerly instead")
        eager: torch.Tensor = self._module(x)
        return eager
