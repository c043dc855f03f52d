"""OpenTelemetry traces: the process's tracer provider (OTLP/gRPC export when
VRS_OBS_OTLP_ENDPOINT is set, nothing otherwise) and the gRPC interceptors that carry a trace
across the search -> embedder hop.

The provider is OpenTelemetry's global one, set once per process; servers and channels made
while tracing is off get no interceptors at all, so an untraced process pays nothing for it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from opentelemetry import trace

from vrs.errors import ConfigurationError
from vrs.security.redact import redact_text
from vrs.settings import ObservabilitySettings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

# The SDK, the exporter and the instrumentation are imported only once tracing is turned on:
# the CLI and untraced processes start without them.

log = logging.getLogger(__name__)

# The search stages' spans (search.cache, search.embed, search.store) come from this tracer.
TRACER_NAME = "vrs"
# An exporter that cannot reach its collector must not hold a request or shutdown up.
_EXPORT_TIMEOUT_S = 5.0
# Spans waiting for export are bounded; beyond it the processor drops them (and counts them).
_MAX_QUEUED_SPANS = 2048

_provider: TracerProvider | None = None
_enabled = False


class VrsTracer:
    """The tracer of vrs's own spans: OpenTelemetry's proxy tracer (it follows a provider set
    later), but a span opened while no provider is set costs nothing."""

    def __init__(self, proxy: trace.Tracer) -> None:
        self._proxy = proxy

    def start_span(self, name: str, **kwargs: Any) -> trace.Span:
        return self._proxy.start_span(name, **kwargs)

    def start_as_current_span(self, name: str, **kwargs: Any) -> AbstractContextManager[trace.Span]:
        if not _provider_set():
            # What OpenTelemetry's no-op tracer would open, without its context switch.
            return _NO_SPAN
        return self._proxy.start_as_current_span(name, **kwargs)


_NO_SPAN = nullcontext(trace.INVALID_SPAN)
# Once a process has a provider it keeps it (OpenTelemetry's global is set once).
_provider_seen = False


def _provider_set() -> bool:
    global _provider_seen
    if not _provider_seen:
        provider = trace.get_tracer_provider()
        _provider_seen = not isinstance(provider, trace.ProxyTracerProvider)
    return _provider_seen


def tracer() -> VrsTracer:
    """The tracer for vrs's own spans (a proxy: it follows the provider set later)."""
    return VrsTracer(trace.get_tracer(TRACER_NAME))


def enabled() -> bool:
    """True while this process records traces (configure_tracing with an endpoint, or a test
    exporter): servers and channels made then get the tracing interceptors."""
    return _enabled


def configure_tracing(settings: ObservabilitySettings, role: str) -> None:
    """Export traces to settings.otlp_endpoint as service vrs-<role> (or settings.service_name);
    without an endpoint, tracing stays off: no provider, no exporter, no interceptors."""
    if settings.otlp_endpoint is None:
        return
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    try:
        exporter = OTLPSpanExporter(endpoint=settings.otlp_endpoint, timeout=_EXPORT_TIMEOUT_S)
    except Exception as exc:
        raise ConfigurationError(
            f"VRS_OBS_OTLP_ENDPOINT {redact_text(settings.otlp_endpoint)!r} cannot be used: "
            f"{type(exc).__name__}: {redact_text(str(exc))}"
        ) from exc
    processor = BatchSpanProcessor(
        exporter, max_queue_size=_MAX_QUEUED_SPANS, export_timeout_millis=_EXPORT_TIMEOUT_S * 1000
    )
    name = settings.service_name or f"vrs-{role}"
    _install(_new_provider(name, settings.trace_sample_ratio), processor)
    log.info(
        "tracing on",
        extra={
            "otlp_endpoint": redact_text(settings.otlp_endpoint),
            "service_name": name,
            "sample_ratio": settings.trace_sample_ratio,
        },
    )


@contextmanager
def exporting_to(exporter: SpanExporter) -> Iterator[None]:
    """Tests: every span ends in `exporter` (an InMemorySpanExporter) as it ends, and servers
    and channels made meanwhile are traced; afterwards tracing is off again for new ones.

    OpenTelemetry's global provider can be set once per process: the first call sets it, later
    ones add their exporter to it.
    """
    global _enabled
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    processor = SimpleSpanProcessor(exporter)
    _install(_provider or _new_provider("vrs-test", 1.0), processor)
    _enabled = True
    try:
        yield
    finally:
        _enabled = False
        processor.shutdown()  # stops the exporter: later spans are dropped, not kept


def shutdown_tracing() -> None:
    """Flush the spans still queued for export (at process exit)."""
    if _provider is not None:
        _provider.shutdown()


def aio_server_interceptors() -> list[Any]:
    """The server interceptor opening each call's span (a child of the caller's trace);
    none while tracing is off."""
    if not enabled():
        return []
    from opentelemetry.instrumentation.grpc import aio_server_interceptor

    return [aio_server_interceptor()]  # type: ignore[no-untyped-call]


def aio_client_interceptors() -> list[Any]:
    """Client interceptors opening a span per call and sending its context to the server;
    none while tracing is off."""
    if not enabled():
        return []
    from opentelemetry.instrumentation.grpc import aio_client_interceptors as otel_interceptors

    return list(otel_interceptors())  # type: ignore[no-untyped-call]


def client_interceptor() -> Any | None:
    """The blocking channels' counterpart of aio_client_interceptors (None: tracing off)."""
    if not enabled():
        return None
    from opentelemetry.instrumentation.grpc import client_interceptor as otel_interceptor

    return otel_interceptor()  # type: ignore[no-untyped-call]


def _new_provider(service_name: str, sample_ratio: float) -> TracerProvider:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    # Parent-based: a search that was sampled keeps its embedder spans, whatever the ratio.
    sampler = ParentBased(TraceIdRatioBased(sample_ratio))
    return TracerProvider(sampler=sampler, resource=Resource.create({"service.name": service_name}))


def _install(provider: TracerProvider, processor: SpanProcessor) -> None:
    global _provider, _enabled
    _enabled = True
    provider.add_span_processor(processor)
    if _provider is None:
        trace.set_tracer_provider(provider)
        _provider = provider
