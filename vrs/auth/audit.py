"""The audit log: one line per write RPC on logger `vrs.audit` (caller, RPC, products,
outcome). Tokens never reach it: a caller is named by the name its tokens-file line gives."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc

log = logging.getLogger("vrs.audit")

NOBODY = "(unauthenticated)"
# Write RPCs, and the repeated field whose length is the number of products a request names.
_WRITES: dict[str, str] = {
    "/vrs.v1.EmbedderService/UpsertProducts": "items",
    "/vrs.v1.EmbedderService/StreamUpsertProducts": "items",
    "/vrs.v1.EmbedderService/UpdateProducts": "patches",
    "/vrs.v1.EmbedderService/DeleteProducts": "product_ids",
}


def is_write(method: str) -> bool:
    return method in _WRITES


class WriteAudit:
    """The audit record of one write call, filled in as the call goes and logged at its end."""

    def __init__(self, method: str) -> None:
        self.method = method
        self.caller = NOBODY
        self.products = 0
        self._field = _WRITES[method]

    def count(self, request: Any) -> None:
        try:
            self.products += len(getattr(request, self._field))
        except Exception:  # a count is worth less than the call it describes
            logging.getLogger(__name__).debug("cannot count products", exc_info=True)

    async def counting(self, requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
        """The request stream, counted as it arrives (a stream cut short counts what came)."""
        async for request in requests:
            self.count(request)
            yield request

    def record(self, outcome: grpc.StatusCode) -> None:
        log.info(
            "caller=%s rpc=%s products=%d outcome=%s",
            self.caller,
            self.method,
            self.products,
            outcome.name,
            extra={
                "caller": self.caller,
                "rpc": self.method,
                "products": self.products,
                "outcome": outcome.name,
            },
        )
