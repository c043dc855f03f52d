"""How the search service turns a query image into a vector: the embedder fleet over gRPC (or,
in a process that runs both services, the embedder in it: see services/composition.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import grpc
import numpy as np

from services.search.embedder_channel import embedder_channel_options
from vrs.catalog.vectors import Vector
from vrs.errors import InvalidImage, VrsError
from vrs.images.region import Region, UsedRegion
from vrs.rpc.convert import region_to_proto, used_region_from_proto
from vrs.rpc.reloading_channel import ReloadingChannel
from vrs.rpc.status import error_from_status
from vrs.settings import ClientSettings
from vrs.v1 import common_pb2, embedder_pb2, embedder_pb2_grpc

if TYPE_CHECKING:
    from vrs.v1.embedder_pb2_grpc import EmbedderServiceAsyncStub


@dataclass(frozen=True)
class EmbeddedQuery:
    """A query photo's vector, the model that made it, and the part of the photo it shows."""

    vector: Vector
    model_id: str
    region: UsedRegion


class QueryEmbedder(Protocol):
    """What the search service needs from an embedder: a query image's vector and model."""

    async def embed(self, data: bytes, region: Region | None) -> EmbeddedQuery:
        """The vector of `region` of the photo, else of its main item (or the whole photo);
        InvalidImage for bad bytes, Unavailable if the embedder is down."""
        ...

    async def model_id(self) -> str: ...

    async def close(self) -> None: ...


class GrpcQueryEmbedder:
    """The embedder fleet over gRPC, behind the address of its service (split deployments):
    calls spread over every replica the address resolves to, UNAVAILABLE ones retried."""

    def __init__(
        self,
        address: str,
        timeout_s: float,
        max_message_mb: int = 64,
        client: ClientSettings | None = None,
        tls_reload_s: float = 10.0,
    ) -> None:
        """`client`: TLS, client certificate and token for the embedder (VRS_CLIENT_*); its
        certificate files are re-read every tls_reload_s when they change."""
        self._address = address
        self._timeout_s = timeout_s
        size = max_message_mb * 1024 * 1024
        self._channels = ReloadingChannel(
            address,
            client if client is not None else ClientSettings.model_construct(),
            options=embedder_channel_options(size),
            check_every_s=tls_reload_s,
            drain_s=timeout_s,
        )
        self._stub_channel: grpc.aio.Channel | None = None
        self._stub_cache: EmbedderServiceAsyncStub | None = None

    @property
    def _stub(self) -> EmbedderServiceAsyncStub:
        # A rotated certificate brings a new channel: stubs are bound to one.
        channel = self._channels.channel
        if self._stub_cache is None or channel is not self._stub_channel:
            self._stub_cache = embedder_pb2_grpc.EmbedderServiceStub(channel)
            self._stub_channel = channel
        return self._stub_cache

    async def embed(self, data: bytes, region: Region | None) -> EmbeddedQuery:
        request = embedder_pb2.EmbedQueryRequest(
            image=common_pb2.ImageSource(data=data),
            region=None if region is None else region_to_proto(region),
        )
        try:
            response = await self._stub.EmbedQuery(request, timeout=self._timeout_s)
        except grpc.aio.AioRpcError as exc:
            raise self._translate(exc) from exc
        used = used_region_from_proto(response.region)
        if used is None:
            raise VrsError(f"embedder {self._address} answered without the region it used")
        return EmbeddedQuery(
            np.asarray(response.embedding.values, dtype=np.float32),
            response.embedding.model_id,
            used,
        )

    async def model_id(self) -> str:
        try:
            stats = await self._stub.GetStats(
                embedder_pb2.GetEmbedderStatsRequest(), timeout=self._timeout_s
            )
        except grpc.aio.AioRpcError as exc:
            raise self._translate(exc) from exc
        return stats.index.model_id

    async def close(self) -> None:
        await self._channels.close()

    def _translate(self, exc: grpc.aio.AioRpcError) -> VrsError:
        code, details = exc.code(), exc.details() or ""
        if code == grpc.StatusCode.INVALID_ARGUMENT:
            return InvalidImage(details)
        error = error_from_status(code, f"{self._address}: {code.name}: {details}", "embedder")
        if type(error) is VrsError:
            return VrsError(f"embedder {self._address} failed: {code.name}: {details}")
        return error
