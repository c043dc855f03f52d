"""The real vrs gRPC bootstrap (create_grpc_server, every interceptor) serving a search RPC and
a write RPC whose servicers do nothing: the interceptors' behaviour without a model or a store.

SearchByProduct answers an empty response, or NOT_FOUND (a domain error the servicer raises)
for product MISSING; DeleteProducts answers that nothing was found.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc

from vrs.errors import NotFound
from vrs.observability.metrics.grpc_server import GrpcServerMetrics
from vrs.rpc.server import GrpcServer, ServiceBinding, create_grpc_server
from vrs.settings import AuthSettings, ServerSettings
from vrs.v1 import embedder_pb2, search_pb2

MISSING = "missing"


async def _search(request: search_pb2.SearchByProductRequest, context: Any) -> Any:
    if request.product_id == MISSING:
        raise NotFound(f"product {MISSING!r} is not in the catalog")
    return search_pb2.SearchResponse(model_id="stub")


async def _delete(request: embedder_pb2.DeleteProductsRequest, context: Any) -> Any:
    return embedder_pb2.DeleteProductsResponse(not_found=list(request.product_ids))


def _binding(
    service: str, method: str, behavior: Any, request: Any, response: Any
) -> ServiceBinding:
    handler = grpc.method_handlers_generic_handler(
        service,
        {
            method: grpc.unary_unary_rpc_method_handler(
                behavior,
                request_deserializer=request.FromString,
                response_serializer=response.SerializeToString,
            )
        },
    )
    return ServiceBinding(service, lambda server: server.add_generic_rpc_handlers((handler,)))


STUB_BINDINGS = (
    _binding(
        "vrs.v1.SearchService",
        "SearchByProduct",
        _search,
        search_pb2.SearchByProductRequest,
        search_pb2.SearchResponse,
    ),
    _binding(
        "vrs.v1.EmbedderService",
        "DeleteProducts",
        _delete,
        embedder_pb2.DeleteProductsRequest,
        embedder_pb2.DeleteProductsResponse,
    ),
)


@asynccontextmanager
async def stub_server(
    auth: dict[str, Any] | None = None, metrics: GrpcServerMetrics | None = None
) -> AsyncIterator[GrpcServer]:
    """A started server on a free loopback port serving the stub RPCs (auth: AuthSettings
    fields; none: auth off)."""
    settings = ServerSettings.model_validate(
        {"host": "127.0.0.1", "port": 0, "shutdown_grace_s": 1.0}
    )
    server = create_grpc_server(
        settings,
        STUB_BINDINGS,
        auth=AuthSettings.model_validate(auth or {}),
        metrics=metrics,
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop(1)
