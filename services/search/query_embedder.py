"""How the search service turns a query image into a vector: the embedder fleet over gRPC, or
the embedder in this very process (all-in-one mode, no network hop)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import grpc
import numpy as np

from services.embedder.embedding import ImageEmbedder
from vrs.catalog import Vector
from vrs.errors import InvalidImage, VrsError
from vrs.grpc_errors import error_from_item, error_from_status
from vrs.v1 import common_pb2, embedder_pb2, embedder_pb2_grpc

if TYPE_CHECKING:
    from vrs.v1.embedder_pb2_grpc import EmbedderServiceAsyncStub


class QueryEmbedder(Protocol):
    async def embed(self, data: bytes) -> tuple[Vector, str]:
        """(vector, model id) of an image; InvalidImage for bad bytes, Unavailable if down."""
        ...

    async def model_id(self) -> str: ...

    async def close(self) -> None: ...


class LocalQueryEmbedder:
    def __init__(self, embedder: ImageEmbedder) -> None:
        self._embedder = embedder

    async def embed(self, data: bytes) -> tuple[Vector, str]:
        return await self._embedder.embed(data), self._embedder.model_id

    async def model_id(self) -> str:
        return self._embedder.model_id

    async def close(self) -> None:
        """The embedder belongs to whoever built it."""


class GrpcQueryEmbedder:
    def __init__(self, address: str, timeout_s: float, max_message_mb: int = 64) -> None:
        self._address = address
        self._timeout_s = timeout_s
        size = max_message_mb * 1024 * 1024
        self._channel = grpc.aio.insecure_channel(
            address,
            options=[
                ("grpc.max_send_message_length", size),
                ("grpc.max_receive_message_length", size),
            ],
        )
        self._stub: EmbedderServiceAsyncStub = embedder_pb2_grpc.EmbedderServiceStub(self._channel)

    async def embed(self, data: bytes) -> tuple[Vector, str]:
        request = embedder_pb2.EmbedRequest(images=[common_pb2.ImageSource(data=data)])
        try:
            response = await self._stub.Embed(request, timeout=self._timeout_s)
        except grpc.aio.AioRpcError as exc:
            raise self._translate(exc) from exc
        result = response.results[0]
        if result.HasField("error"):
            raise error_from_item(result.error, "embedder")
        return np.asarray(result.embedding.values, dtype=np.float32), response.model_id

    async def model_id(self) -> str:
        try:
            stats = await self._stub.GetStats(
                embedder_pb2.GetEmbedderStatsRequest(), timeout=self._timeout_s
            )
        except grpc.aio.AioRpcError as exc:
            raise self._translate(exc) from exc
        return stats.index.model_id

    async def close(self) -> None:
        await self._channel.close(None)

    def _translate(self, exc: grpc.aio.AioRpcError) -> VrsError:
        code, details = exc.code(), exc.details() or ""
        if code == grpc.StatusCode.INVALID_ARGUMENT:
            return InvalidImage(details)
        error = error_from_status(code, f"{self._address}: {code.name}: {details}", "embedder")
        if type(error) is VrsError:
            return VrsError(f"embedder {self._address} failed: {code.name}: {details}")
        return error
