"""The alert rules operators deploy: valid, each firing on its fault's series and quiet on a
healthy one (promtool, Debian's prometheus package), shipped alike as a plain rules file and a
PrometheusRule, and reading only metrics vrs exports."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.k8s_render import DEPLOY
from tests.support.monitoring import exported_series, metric_names, render_monitoring

RULES = DEPLOY / "prometheus" / "vrs-alerts.yaml"
RULE_TESTS = DEPLOY / "prometheus" / "vrs-alerts.test.yaml"
# What the drill breaks, each with its rule (issue 20).
EXPECTED_ALERTS = {
    "VrsHighErrorRate",
    "VrsSearchLatencyHigh",
    "VrsEventsLagging",
    "VrsEventsDeadLettered",
    "VrsRedisUnreachable",
    "VrsQdrantUnreachable",
    "VrsDescriptorsNearBudget",
}


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is needed (Debian package prometheus; .ci/run installs it)")
    return subprocess.run(
        [binary, *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


def plain_rules() -> list[dict[str, object]]:
    groups: list[dict[str, object]] = yaml.safe_load(RULES.read_text())["groups"]
    return groups


def test_the_rules_are_valid() -> None:
    done = promtool("check", "rules", RULES)
    assert done.returncode == 0, done.stdout + done.stderr


def test_each_alert_fires_on_its_fault_and_stays_quiet_when_healthy() -> None:
    done = promtool("test", "rules", RULE_TESTS)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_fault_of_the_drill_has_an_alert_and_a_rule_test() -> None:
    alerts = {rule["alert"] for group in plain_rules() for rule in group["rules"]}  # type: ignore[attr-defined]
    assert alerts == EXPECTED_ALERTS
    tested = RULE_TESTS.read_text()
    for alert in alerts:
        assert f"alertname: {alert}" in tested, f"{alert} has no promtool test"


def test_the_prometheus_rule_ships_the_same_groups() -> None:
    [rule] = [doc for doc in render_monitoring() if doc["kind"] == "PrometheusRule"]
    assert rule["spec"]["groups"] == plain_rules()


def test_the_rules_read_only_metrics_vrs_exports() -> None:
    for group in plain_rules():
        for rule in group["rules"]:  # type: ignore[attr-defined]
            names = metric_names(rule["expr"])
            assert names, rule["alert"]
            for name in names:
                assert exported_series(name), f"{rule['alert']}: vrs exports no {name}"
