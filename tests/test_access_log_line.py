"""A call's access line is written once its response is with gRPC (the loop's next turn), in
the JSON format, still naming the call's trace."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.support.auth_env import client_of
from tests.support.span_trees import server_span
from tests.support.stub_services import stub_server
from vrs.observability import tracing
from vrs.observability.logs import JsonFormatter, RedactingFilter
from vrs.v1 import search_pb2

SEARCH = "/vrs.v1.SearchService/SearchByProduct"


@contextmanager
def json_lines(logger: str) -> Iterator[io.StringIO]:
    """What `logger` writes, formatted and redacted as `vrs serve` does."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter())
    log = logging.getLogger(logger)
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        yield out
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


async def test_the_access_line_of_a_traced_call_names_its_trace() -> None:
    exporter = InMemorySpanExporter()
    with tracing.exporting_to(exporter), json_lines("vrs.rpc.server") as out:
        async with stub_server() as server, client_of(server.port, None) as client:
            await client.search.SearchByProduct(
                search_pb2.SearchByProductRequest(product_id="shirt-001"), timeout=5
            )
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    access = [line for line in lines if line["msg"] == "rpc"]
    assert [(line["method"], line["code"]) for line in access] == [(SEARCH, "OK")]
    context = server_span(exporter.get_finished_spans(), SEARCH).context
    assert context is not None
    assert access[0]["trace_id"] == f"{context.trace_id:032x}"
    assert access[0]["ms"] >= 0
