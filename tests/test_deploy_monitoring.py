"""Monitoring and scaling on load, checked offline: the pods expose their metrics port, the
PodMonitors scrape it, only Prometheus may reach it, the HPAs read custom metrics that the
prometheus-adapter rules serve from metrics vrs exports, and the Grafana dashboard queries only
metrics vrs exports."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest

from tests.support.k8s_render import (
    OVERLAYS,
    by_kind,
    containers,
    env_of,
    render,
    workloads,
)
from tests.support.monitoring import (
    EXPORTED,
    MONITORING_GROUP,
    adapter_metric,
    adapter_rules,
    dashboard,
    dashboard_exprs,
    exported_by_vrs,
    exported_series,
    metric_names,
    render_monitoring,
)

K8S_VERSION = "1.32"
SERVICES = ("vrs-embedder", "vrs-search")
METRICS_PORT = 9464
Doc = dict[str, Any]


@pytest.fixture(scope="module")
def docs() -> list[Doc]:
    return render("cpu")


@pytest.fixture(scope="module")
def monitoring() -> list[Doc]:
    return render_monitoring()


def test_monitoring_kustomization_renders_and_validates(monitoring: list[Doc]) -> None:
    kinds = {d["kind"] for d in monitoring}
    assert kinds == {"PodMonitor", "ConfigMap", "PrometheusRule"}
    for doc in monitoring:
        if doc["kind"] == "PrometheusRule":
            assert doc["apiVersion"] == f"{MONITORING_GROUP}/v1"
            assert doc["metadata"].get("namespace") and doc["spec"]["groups"]
        elif doc["apiVersion"].split("/")[0] == MONITORING_GROUP:
            assert_pod_monitor_shape(doc)
        else:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def assert_pod_monitor_shape(doc: Doc) -> None:
    """What the schemas would have caught in a Prometheus Operator resource: a PodMonitor of
    monitoring.coreos.com/v1 with a name, a namespace, a pod selector and endpoints naming a
    port."""
    name = doc["metadata"].get("name")
    assert doc["apiVersion"] == f"{MONITORING_GROUP}/v1", name
    assert doc["kind"] == "PodMonitor", name
    assert name and doc["metadata"].get("namespace"), doc["metadata"]
    spec = doc["spec"]
    assert set(spec) <= {"selector", "namespaceSelector", "podMetricsEndpoints", "jobLabel"}
    assert spec["selector"]["matchLabels"], name
    assert spec["podMetricsEndpoints"], name
    for endpoint in spec["podMetricsEndpoints"]:
        keys = {"port", "path", "scheme", "tlsConfig", "interval", "scrapeTimeout"}
        assert set(endpoint) <= keys, endpoint
        assert isinstance(endpoint["port"], str), "a named port survives a port change"
        # /metrics beyond loopback is HTTPS (the pods' certificates, checked against vrs-ca).
        assert endpoint.get("scheme") == "https", endpoint
        assert endpoint["tlsConfig"]["ca"]["secret"]["name"] == "vrs-ca", endpoint
        assert endpoint["tlsConfig"]["serverName"], endpoint


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("name", SERVICES)
def test_services_serve_metrics_on_the_named_port(overlay: str, name: str) -> None:
    docs = render(overlay)
    container = containers(workloads(docs)[name])[0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["metrics"] == METRICS_PORT
    env = env_of(container, docs)
    assert env["VRS_OBS_METRICS_PORT"] == str(METRICS_PORT)
    assert env["VRS_OBS_METRICS_HOST"] == "0.0.0.0"


@pytest.mark.parametrize("name", SERVICES)
def test_a_pod_monitor_scrapes_each_service_on_its_metrics_port(
    docs: list[Doc], monitoring: list[Doc], name: str
) -> None:
    workload = workloads(docs)[name]
    pod_labels = workload["spec"]["template"]["metadata"]["labels"]
    port_names = {p["name"] for c in containers(workload) for p in c.get("ports", [])}
    namespace = workload["metadata"]["namespace"]
    scraping = [
        m
        for m in by_kind(monitoring, "PodMonitor").values()
        if m["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    ]
    assert len(scraping) == 1, f"{name}: {len(scraping)} PodMonitors select its pods"
    [monitor] = scraping
    assert monitor["metadata"]["namespace"] == namespace
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == [namespace]
    assert [e["port"] for e in monitor["spec"]["podMetricsEndpoints"]] == ["metrics"]
    assert "metrics" in port_names


def test_only_prometheus_in_the_monitoring_namespace_reaches_the_metrics_port(
    docs: list[Doc],
) -> None:
    policy = by_kind(docs, "NetworkPolicy")["vrs-metrics-ingress"]["spec"]
    [selector] = policy["podSelector"]["matchExpressions"]
    assert selector["key"] == "app.kubernetes.io/name" and set(selector["values"]) == set(SERVICES)
    [rule] = policy["ingress"]
    assert rule["ports"] == [{"port": "metrics"}]
    [peer] = rule["from"]
    assert peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "prometheus"}
    [names] = peer["namespaceSelector"]["matchExpressions"]
    assert names == {
        "key": "kubernetes.io/metadata.name",
        "operator": "In",
        "values": ["monitoring"],
    }
    # No other policy opens the metrics port (nor every port) to these pods.
    for name, other in by_kind(docs, "NetworkPolicy").items():
        if name == "vrs-metrics-ingress":
            continue
        for rule in other["spec"].get("ingress", []):
            ports = [p["port"] for p in rule.get("ports", [])]
            assert ports and "metrics" not in ports and METRICS_PORT not in ports, name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_hpas_scale_on_metrics_the_adapter_rules_serve(overlay: str, monitoring: list[Doc]) -> None:
    served = {}
    for rule in adapter_rules(monitoring):
        series, name = adapter_metric(rule)
        assert EXPORTED.get(series) == "gauge", f"adapter rule reads {series}: not a vrs gauge"
        overrides = rule["resources"]["overrides"]
        assert overrides["namespace"] == {"resource": "namespace"}
        assert overrides["pod"] == {"resource": "pod"}, "per-pod values for Pods metrics"
        for part in ("<<.Series>>", "<<.LabelMatchers>>", "<<.GroupBy>>"):
            assert part in rule["metricsQuery"], (series, part)
        served[name] = series
    hpas = by_kind(render(overlay), "HorizontalPodAutoscaler")
    load_metrics = {
        hpa["spec"]["scaleTargetRef"]["name"]: [
            m["pods"]["metric"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "Pods"
        ]
        for hpa in hpas.values()
    }
    assert load_metrics == {
        "vrs-search": ["vrs_grpc_server_in_flight_requests"],
        "vrs-embedder": ["vrs_embedder_queue_depth"],
    }
    for target, names in load_metrics.items():
        for name in names:
            assert name in served, f"HPA {target}: no adapter rule serves {name}"
    for hpa in hpas.values():
        for metric in hpa["spec"]["metrics"]:
            if metric["type"] == "Pods":
                assert metric["pods"]["target"]["type"] == "AverageValue"


def test_vrs_exports_every_metric_the_dashboard_and_the_adapter_may_read() -> None:
    exported = exported_by_vrs()
    missing = {name: kind for name, kind in EXPORTED.items() if exported.get(name) != kind}
    assert not missing, f"vrs.observability.metrics lacks (or types otherwise) {missing}"


def test_the_dashboard_queries_only_metrics_vrs_exports() -> None:
    exprs = dashboard_exprs(dashboard())
    assert exprs
    used = set()
    for title, expr in exprs:
        names = metric_names(expr)
        assert names, f"panel {title!r}: {expr} reads no vrs metric"
        for name in names:
            assert exported_series(name), f"panel {title!r}: vrs exports no {name}"
            used.add(exported_series(name))
    for name in ("vrs_grpc_server_request_duration_seconds", "vrs_embedder_batch_size"):
        assert name in used


def test_the_dashboard_has_the_panels_operators_look_for() -> None:
    board = dashboard()
    assert board["uid"] and board["title"]
    titles = " | ".join(p["title"].lower() for p in board["panels"])
    for wanted in (
        "latency p50 / p95 / p99",
        "throughput",
        "errors",
        "cache hit rate",
        "batch size",
        "queue depth",
        "events lag",
    ):
        assert wanted in titles, f"no panel for {wanted}"
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"] for v in board["templating"]["list"]}
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}"
        for target in panel["targets"]:
            # Every query stays on the namespace picked at the top of the dashboard.
            assert 'namespace="$namespace"' in target["expr"], (panel["title"], target["expr"])
    assert {"datasource", "namespace"} <= variables
