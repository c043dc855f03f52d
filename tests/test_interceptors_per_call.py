"""The server's interceptors wrap each method's handler once, yet every call is still admitted,
counted, mapped and logged on its own; vrs's spans cost nothing without a tracer provider and
are recorded once one is set."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from tests.support.auth_env import auth_section, client_of, status_of, write_tokens_file
from tests.support.stub_services import MISSING, stub_server
from vrs.observability.metrics.grpc_server import GrpcServerMetrics
from vrs.observability.metrics.values import count
from vrs.v1 import embedder_pb2, search_pb2

FOUND = search_pb2.SearchByProductRequest(product_id="shirt-001")
NOT_FOUND = search_pb2.SearchByProductRequest(product_id=MISSING)
SEARCH = "/vrs.v1.SearchService/SearchByProduct"


async def test_every_call_of_a_method_is_admitted_on_its_own(tmp_path: Path) -> None:
    """The handler is reused, the admission is not: a call without a token is refused between
    two admitted ones."""
    tokens = write_tokens_file(tmp_path / "tokens", {"shop-front": ["search"]})
    async with (
        stub_server(auth=auth_section(tmp_path / "tokens")) as server,
        client_of(server.port, tokens["shop-front"]) as shop,
        client_of(server.port, None) as nobody,
    ):
        first = await shop.search.SearchByProduct(FOUND, timeout=5)
        refused = await status_of(nobody.search.SearchByProduct(FOUND, timeout=5))
        again = await shop.search.SearchByProduct(FOUND, timeout=5)
    assert (first.model_id, again.model_id) == ("stub", "stub")
    assert refused.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_every_call_of_a_method_is_counted_under_its_own_status() -> None:
    metrics = GrpcServerMetrics()
    async with stub_server(metrics=metrics) as server, client_of(server.port, None) as client:
        await client.search.SearchByProduct(FOUND, timeout=5)
        error = await status_of(client.search.SearchByProduct(NOT_FOUND, timeout=5))
        await client.search.SearchByProduct(FOUND, timeout=5)
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert error.details() == f"product {MISSING!r} is not in the catalog"
    counted = {
        code: count(
            metrics.requests,
            "vrs_grpc_server_requests_total",
            method="SearchByProduct",
            code=code,
        )
        for code in ("OK", "NOT_FOUND")
    }
    assert counted == {"OK": 2, "NOT_FOUND": 1}


async def test_every_call_writes_its_access_log_line_at_info(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="vrs.rpc.server")
    async with stub_server() as server, client_of(server.port, None) as client:
        await client.search.SearchByProduct(FOUND, timeout=5)
        await status_of(client.search.SearchByProduct(NOT_FOUND, timeout=5))
    lines = [
        (getattr(r, "method", None), getattr(r, "code", None))
        for r in caplog.records
        if r.name == "vrs.rpc.server" and r.getMessage() == "rpc"
    ]
    assert lines == [(SEARCH, "OK"), (SEARCH, "NOT_FOUND")]


async def test_without_auth_a_write_is_audited_and_a_read_is_not(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Auth off serves reads unwrapped; writes still pass the audit."""
    caplog.set_level(logging.INFO, logger="vrs.audit")
    async with stub_server() as server, client_of(server.port, None) as client:
        await client.search.SearchByProduct(FOUND, timeout=5)
        delete = embedder_pb2.DeleteProductsRequest(product_ids=["a", "b"])
        await client.embedder.DeleteProducts(delete, timeout=5)
    audited = [
        (getattr(r, "caller", None), getattr(r, "rpc", None), getattr(r, "products", None))
        for r in caplog.records
        if r.name == "vrs.audit"
    ]
    assert audited == [("anonymous", "/vrs.v1.EmbedderService/DeleteProducts", 2)]


SPANS_PROBE = """
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from vrs.observability import tracing
made_early = tracing.tracer()
with made_early.start_as_current_span("before", attributes={"kind": "result"}) as span:
    span.set_attribute("hit", True)
    print(span.is_recording())
exporter = InMemorySpanExporter()
with tracing.exporting_to(exporter):
    with made_early.start_as_current_span("after", attributes={"kind": "result"}) as span:
        print(span.is_recording())
print(",".join(s.name for s in exporter.get_finished_spans()))
"""


def test_a_tracer_records_nothing_without_a_provider_and_follows_one_set_later() -> None:
    """A fresh interpreter: the test process's provider is set by the tracing tests."""
    done = subprocess.run(
        [sys.executable, "-c", SPANS_PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["False", "True", "after"]
