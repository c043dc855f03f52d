"""Settings that cannot work are refused when read, with one line naming the variables."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from vrs.settings import EventsSettings, Settings
from vrs.settings.problems import settings_problems


def refusal(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> str:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        Settings.from_env()
    return settings_problems(caught.value)


def test_attempts_that_cannot_outlast_a_dead_consumers_lock_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    problem = refusal(
        monkeypatch,
        {
            "VRS_EVENTS_MAX_ATTEMPTS": "3",
            "VRS_EVENTS_LOCK_WAIT_MS": "3000",
            "VRS_EVENTS_LOCK_TTL_MS": "60000",
        },
    )
    assert "VRS_EVENTS_MAX_ATTEMPTS x VRS_EVENTS_LOCK_WAIT_MS" in problem
    assert "cannot outlast VRS_EVENTS_LOCK_TTL_MS" in problem


@pytest.mark.parametrize(
    ("attempts", "wait_ms", "ttl_ms"),
    [(5, 10_000, 30_000), (3, 10_000, 30_000), (1, 60_000, 60_000)],
)
def test_attempts_that_outlast_the_lock_are_accepted(
    attempts: int, wait_ms: int, ttl_ms: int
) -> None:
    settings = EventsSettings(max_attempts=attempts, lock_wait_ms=wait_ms, lock_ttl_ms=ttl_ms)
    assert settings.max_attempts * settings.lock_wait_ms >= settings.lock_ttl_ms


def test_a_rule_across_variables_is_said_without_a_variable_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    problem = refusal(monkeypatch, {"VRS_EVENTS_MAX_ATTEMPTS": "1", "VRS_EVENTS_LOCK_WAIT_MS": "0"})
    assert problem.startswith("invalid settings: VRS_EVENTS_MAX_ATTEMPTS x")
    assert "Value error" not in problem


@pytest.mark.parametrize(
    "name", ["VRS_OBS_METRICS_PORT", "VRS_WEB_PORT", "VRS_REDIS_URL", "VRS_SEARCH_DEFAULT_K"]
)
def test_an_empty_variable_means_unset(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(name, "")
    assert Settings.from_env() == Settings()
