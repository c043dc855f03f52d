"""Server interceptors that wrap a method's handler once, not on every call.

gRPC asks each interceptor for a handler on every call. Building a new handler (and its
closures, and the metric children it holds) each time is per-call work that answers nothing
new: the servicers' handlers are the same objects call after call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import grpc

from vrs.rpc.handler_types import Handler, Interceptor


class WrapOncePerMethod(Interceptor):
    """A server interceptor whose `wrap` runs once per method and handler below it.

    The wrapped handler is reused while the handler the chain below returns is the same object
    (the servicers' are; one made per call, as the tracing interceptor's is, is wrapped per
    call). Only methods that have a handler are kept: unknown method names cannot grow it.
    """

    def __init__(self) -> None:
        self._wrapped: dict[str, tuple[Handler, Handler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        details: grpc.HandlerCallDetails,
    ) -> Handler:
        handler = await continuation(details)
        if handler is None:
            return handler
        method = details.method
        known = self._wrapped.get(method)
        if known is not None and known[0] is handler:
            return known[1]
        wrapped = self.wrap(method, handler)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def wrap(self, method: str, handler: Handler) -> Handler:
        """The handler serving `method` (a full gRPC method name) through this interceptor."""
        raise NotImplementedError
