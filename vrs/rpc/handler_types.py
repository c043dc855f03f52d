"""The typing names of grpc.aio server handlers, written once for every interceptor."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc

if TYPE_CHECKING:
    Context = grpc.aio.ServicerContext[Any, Any]
    Handler = grpc.RpcMethodHandler[Any, Any]
    Interceptor = grpc.aio.ServerInterceptor[Any, Any]
else:
    # grpc's classes are not generic at run time.
    Context = grpc.aio.ServicerContext
    Handler = grpc.RpcMethodHandler
    Interceptor = grpc.aio.ServerInterceptor

# A unary-response handler of an aio server: (request or request iterator, context) -> response.
UnaryBehavior = Callable[[Any, "Context"], Awaitable[Any]]
# Any handler: (request or request iterator, context) -> response, response iterator or None.
Behavior = Callable[[Any, "Context"], Any]
