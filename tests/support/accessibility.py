"""axe-core, as axe-selenium-python bundles it, run inside the page a browser test shows."""

from __future__ import annotations

from typing import Any, NamedTuple

from axe_selenium_python import Axe
from selenium.webdriver.remote.webdriver import WebDriver

# Violations a page must not have; the others are reported, not failed on.
BLOCKING = frozenset({"serious", "critical"})


class AxeFindings(NamedTuple):
    """axe's violations on the page, those of serious or critical impact apart."""

    blocking: list[dict[str, Any]]
    others: list[dict[str, Any]]


def axe_findings(driver: WebDriver) -> AxeFindings:
    """Runs every axe rule on the page as it is now."""
    axe = Axe(driver)
    axe.inject()
    violations: list[dict[str, Any]] = axe.run()["violations"]
    blocking = [v for v in violations if v.get("impact") in BLOCKING]
    return AxeFindings(blocking, [v for v in violations if v not in blocking])


def describe(violations: list[dict[str, Any]]) -> str:
    """One line per violation: its impact, rule, what it asks, and the elements failing it."""
    lines = []
    for v in violations:
        targets = ", ".join(str(t) for node in v["nodes"] for t in node["target"])
        lines.append(f"{v.get('impact')} {v['id']}: {v['help']} [{targets}]")
    return "\n".join(lines) or "none"
