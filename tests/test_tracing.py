"""Traces and logs: one trace across search and embedder, log lines in UTC with trace ids,
tracing off without an endpoint."""

from __future__ import annotations

import io
import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.composition import create_server
from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.factories import settings_for
from tests.support.images import product_jpeg
from tests.support.redis_server import RedisServer
from tests.support.servers import embedder_server
from tests.support.span_trees import is_descendant, only_span, server_span
from vrs.observability import tracing
from vrs.observability.logs import JsonFormatter, RedactingFilter
from vrs.settings import StoreSettings
from vrs.store.async_store import AsyncStore
from vrs.store.qdrant_edge_store import QdrantEdgeStore
from vrs.v1 import common_pb2, search_pb2, search_pb2_grpc

UTC_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    with tracing.exporting_to(exporter):
        yield exporter


async def test_one_trace_spans_search_and_embedder(
    tmp_path: Path,
    effnet: ImageEmbedder,
    redis_server: RedisServer,
    spans: InMemorySpanExporter,
) -> None:
    """A split SearchByImage is one trace: the embedder's server span descends from the
    search's embed span, and the cache, embed and store stages are spans of it."""
    store = QdrantEdgeStore.open(
        StoreSettings(data_dir=tmp_path / "edge"), effnet.model_id, effnet.dimension
    )
    try:
        async with embedder_server(tmp_path, effnet, store) as emb:
            settings = settings_for(
                tmp_path,
                search={"embedder_address": f"127.0.0.1:{emb.port}"},
                redis={"url": redis_server.url},
            )
            server, port = await create_server(settings, "search", store=AsyncStore(store, 10.0))
            try:
                async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                    await search_pb2_grpc.SearchServiceStub(channel).SearchByImage(
                        search_pb2.SearchByImageRequest(
                            image=common_pb2.ImageSource(data=product_jpeg(seed=3)), k=3
                        ),
                        timeout=30,
                    )
            finally:
                await server.stop(1)
    finally:
        store.close()

    finished = spans.get_finished_spans()
    search = server_span(finished, "/vrs.v1.SearchService/SearchByImage")
    embed = only_span(finished, "search.embed")
    # A search embeds its query photo through EmbedQuery (the region found or given).
    embedder = server_span(finished, "/vrs.v1.EmbedderService/EmbedQuery")
    assert search.context is not None and embedder.context is not None
    assert embedder.context.trace_id == search.context.trace_id
    assert is_descendant(finished, embedder, embed)
    assert is_descendant(finished, embed, search)
    stages = {s.name for s in finished if is_descendant(finished, s, search)}
    assert {"search.cache", "search.embed", "search.store"} <= stages


def _json_line(logger: logging.Logger, message: str) -> dict[str, object]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    try:
        logger.warning(message)
    finally:
        logger.removeHandler(handler)
    entry: dict[str, object] = json.loads(out.getvalue())
    return entry


def test_json_log_lines_carry_utc_milliseconds() -> None:
    """ts is ISO 8601 in UTC with milliseconds and a Z, whatever the local time zone."""
    before = datetime.now(UTC)
    entry = _json_line(logging.getLogger("vrs.test.logs"), "hello")
    ts = str(entry["ts"])
    assert UTC_MS.match(ts), ts
    stamped = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    assert before - timedelta(milliseconds=1) <= stamped <= datetime.now(UTC)


def test_json_log_lines_inside_a_span_carry_its_trace_and_span_ids(
    spans: InMemorySpanExporter,
) -> None:
    """A line logged while a span is active names the span's trace and span ids (hex)."""
    with tracing.tracer().start_as_current_span("work") as span:
        entry = _json_line(logging.getLogger("vrs.test.logs"), "inside")
    context = span.get_span_context()
    assert entry["trace_id"] == f"{context.trace_id:032x}"
    assert entry["span_id"] == f"{context.span_id:016x}"


def test_json_log_lines_outside_a_span_have_no_trace_ids() -> None:
    entry = _json_line(logging.getLogger("vrs.test.logs"), "outside")
    assert "trace_id" not in entry and "span_id" not in entry


OFF_PROBE = """
from opentelemetry import trace
from vrs.observability import tracing
from vrs.settings import ObservabilitySettings
tracing.configure_tracing(ObservabilitySettings(), "search")
span = tracing.tracer().start_span("probe")
print(tracing.enabled(), len(tracing.aio_server_interceptors()),
      len(tracing.aio_client_interceptors()), span.is_recording(),
      type(trace.get_tracer_provider()).__name__)
"""


def test_tracing_is_off_without_an_endpoint() -> None:
    """No endpoint: no provider, no exporter, no interceptors, spans not recorded, no error
    (a fresh interpreter: the test process's provider is set by the other tests)."""
    done = subprocess.run(
        [sys.executable, "-c", OFF_PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["False", "0", "0", "False", "ProxyTracerProvider"]
    assert done.stderr == ""


ON_PROBE = """
from vrs.observability import tracing
from vrs.settings import ObservabilitySettings
tracing.configure_tracing(
    ObservabilitySettings(otlp_endpoint="http://127.0.0.1:9", trace_sample_ratio=1.0), "search"
)
print(tracing.enabled(), len(tracing.aio_server_interceptors()))
"""


def test_tracing_is_on_with_an_endpoint() -> None:
    """An endpoint turns tracing on; the gRPC servers made then get the tracing interceptor."""
    done = subprocess.run(
        [sys.executable, "-c", ON_PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["True", "1"]
