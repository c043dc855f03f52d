"""deploy/k8s/monitoring rendered offline, the Grafana dashboard, and the metric names vrs
exports (as decided for issue 12), to check the monitoring pieces against each other."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, ProcessCollector

from tests.support.k8s_render import DEPLOY
from vrs.observability.metrics.dependencies import DependencyHealth
from vrs.observability.metrics.embedder import EmbedderMetrics
from vrs.observability.metrics.events import EventCounters, EventsCollector, EventsStatus
from vrs.observability.metrics.grpc_server import GrpcServerMetrics
from vrs.observability.metrics.listeners import ListenerCollector
from vrs.observability.metrics.search import SearchMetrics
from vrs.observability.metrics.store import StoreMetrics

MONITORING = DEPLOY / "k8s" / "monitoring"
DASHBOARD = DEPLOY / "grafana" / "vrs-dashboard.json"
MONITORING_GROUP = "monitoring.coreos.com"

Doc = dict[str, Any]

# name -> Prometheus type of every metric a vrs process exports, as decided for issue 12 (a
# test holds vrs.observability.metrics to it).
EXPORTED: dict[str, str] = {
    "vrs_grpc_server_requests_total": "counter",
    "vrs_grpc_server_request_duration_seconds": "histogram",
    "vrs_grpc_server_in_flight_requests": "gauge",
    "vrs_embedder_queue_depth": "gauge",
    "vrs_embedder_decode_queue_depth": "gauge",
    "vrs_embedder_queue_wait_seconds": "histogram",
    "vrs_embedder_batch_size": "histogram",
    "vrs_embedder_decode_seconds": "histogram",
    "vrs_embedder_forward_seconds": "histogram",
    "vrs_embedder_images_embedded_total": "counter",
    "vrs_embedder_forward_passes_total": "counter",
    "vrs_embedder_photos_located_total": "counter",
    "vrs_embedder_device_info": "gauge",
    "vrs_search_cache_requests_total": "counter",
    "vrs_search_embedder_call_seconds": "histogram",
    "vrs_search_store_query_seconds": "histogram",
    "vrs_search_queries_total": "counter",
    "vrs_search_results": "histogram",
    "vrs_store_points": "gauge",
    "vrs_store_indexed_vectors": "gauge",
    "vrs_store_write_seconds": "histogram",
    "vrs_events_lag": "gauge",
    "vrs_events_pending": "gauge",
    "vrs_events_processed_total": "counter",
    "vrs_events_retried_total": "counter",
    "vrs_events_dead_lettered_total": "counter",
    "vrs_events_group_recreated_total": "counter",
    "vrs_events_consumers_removed_total": "counter",
    "vrs_redis_up": "gauge",
    "vrs_redis_failures_total": "counter",
    "vrs_qdrant_up": "gauge",
    "vrs_qdrant_failures_total": "counter",
    "vrs_http_connections": "gauge",
    "vrs_http_max_connections": "gauge",
    "vrs_http_refused_total": "counter",
    "vrs_process_open_fds": "gauge",
    "vrs_process_max_fds": "gauge",
}
HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")
_METRIC = re.compile(r"\bvrs_[a-z0-9_]+\b")


def exported_by_vrs() -> dict[str, str]:
    """name -> type of the metrics vrs's own metric groups register (counters with _total)."""
    registry = CollectorRegistry()
    groups = (
        EmbedderMetrics(),
        GrpcServerMetrics(),
        SearchMetrics(),
        StoreMetrics(),
        DependencyHealth("redis", "Redis"),
    )
    for group in groups:
        for collector in group.collectors():
            registry.register(collector)
    registry.register(EventsCollector(lambda: EventsStatus("s", "g", 0, 0, EventCounters())))
    registry.register(ListenerCollector())
    ProcessCollector(namespace="vrs", registry=registry)
    return {
        f"{family.name}_total" if family.type == "counter" else family.name: family.type
        for family in registry.collect()
    }


def render_monitoring() -> list[Doc]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is needed to render deploy/k8s/monitoring (kubectl kustomize)")
    out = subprocess.run(
        [kubectl, "kustomize", str(MONITORING)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def dashboard() -> Doc:
    loaded: Doc = json.loads(DASHBOARD.read_text())
    return loaded


def dashboard_exprs(board: Doc) -> list[tuple[str, str]]:
    """(panel title, PromQL expression) of every query of every panel."""
    return [
        (panel["title"], target["expr"])
        for panel in board["panels"]
        for target in panel.get("targets", [])
    ]


def exported_series(name: str) -> str | None:
    """The exported metric a series name belongs to (histograms' _bucket/_sum/_count), or None."""
    if name in EXPORTED:
        return name
    for suffix in HISTOGRAM_SERIES:
        base = name.removesuffix(suffix)
        if base != name and EXPORTED.get(base) == "histogram":
            return base
    return None


def metric_names(promql: str) -> set[str]:
    return set(_METRIC.findall(promql))


def adapter_rules(docs: list[Doc]) -> list[Doc]:
    """The prometheus-adapter rules of the rendered monitoring kustomization."""
    [config] = [d for d in docs if d["kind"] == "ConfigMap" and "config.yaml" in d.get("data", {})]
    rules: list[Doc] = yaml.safe_load(config["data"]["config.yaml"])["rules"]
    return rules


def adapter_metric(rule: Doc) -> tuple[str, str]:
    """(series the rule reads, custom metric name it serves), as prometheus-adapter names them."""
    series = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", rule["seriesQuery"])
    assert series, rule["seriesQuery"]
    name = rule.get("name", {})
    # Go's replacement syntax ($1, ${1}) in Python's.
    replacement = re.sub(r"\$\{?(\d+)\}?", r"\\g<\1>", name.get("as", "${0}"))
    served = re.sub(name.get("matches", "^(.*)$"), replacement, series.group(0))
    return series.group(0), served
