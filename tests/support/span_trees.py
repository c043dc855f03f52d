"""Reading finished spans (an InMemorySpanExporter's) as trees: who is whose ancestor."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind


def only_span(
    spans: Sequence[ReadableSpan], name: str, kind: SpanKind | None = None
) -> ReadableSpan:
    """The one span called `name` (of `kind`); AssertionError naming what was found otherwise."""
    found = [s for s in spans if s.name == name and (kind is None or s.kind == kind)]
    assert len(found) == 1, f"{len(found)} spans {name!r} ({kind}) in {[s.name for s in spans]}"
    return found[0]


def server_span(spans: Sequence[ReadableSpan], method: str) -> ReadableSpan:
    """The server span of a gRPC method ("/vrs.v1.SearchService/SearchByImage")."""
    return only_span(spans, method, SpanKind.SERVER)


def is_descendant(
    spans: Sequence[ReadableSpan], span: ReadableSpan, ancestor: ReadableSpan
) -> bool:
    """True when `ancestor` is on the parent chain of `span` (same trace)."""
    by_id = {s.context.span_id: s for s in spans if s.context is not None}
    assert ancestor.context is not None
    current: ReadableSpan | None = span
    while current is not None and current.parent is not None:
        if current.parent.span_id == ancestor.context.span_id:
            return True
        current = by_id.get(current.parent.span_id)
    return False
