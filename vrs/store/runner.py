"""Blocking store calls, run off the event loop with a deadline each."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import grpc
import httpx
from qdrant_client.http.exceptions import ApiException

from vrs.errors import Unavailable
from vrs.store.base import VectorStore

T = TypeVar("T")

# What a store call raises when Qdrant is down, refuses, or answers with an error.
_DEPENDENCY_ERRORS = (ApiException, grpc.RpcError, httpx.TransportError, OSError)


class StoreRunner:
    """The one way async code calls the vector store.

    Store adapters block (qdrant-client's sync client, or Qdrant Edge doing the search in this
    process); running them on the event loop would stall every other call. The pool is small
    and bounded: Qdrant does its own parallelism, more threads here would only queue there.
    """

    def __init__(self, store: VectorStore, timeout_s: float, workers: int = 4) -> None:
        self.store = store
        self._timeout_s = timeout_s
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="vrs-store")

    async def run(self, fn: Callable[..., T], *args: Any, timeout_s: float | None = -1.0) -> T:
        """fn(*args) in the pool; timeout_s=None waits as long as it takes (index builds)."""
        limit = self._timeout_s if timeout_s == -1.0 else timeout_s
        future = asyncio.get_running_loop().run_in_executor(
            self._executor, functools.partial(fn, *args)
        )
        try:
            return await asyncio.wait_for(future, limit)
        except TimeoutError as exc:
            raise Unavailable("Qdrant", f"no answer within {limit}s") from exc
        except _DEPENDENCY_ERRORS as exc:
            raise Unavailable("Qdrant", f"{type(exc).__name__}: {exc}") from exc

    async def model_id(self) -> str:
        """The collection's model id; may ask Qdrant (an alias can switch models)."""
        return await self.run(lambda: self.store.model_id)

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._executor.shutdown, True)
        self.store.close()
