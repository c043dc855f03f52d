"""A Redis password or Qdrant API key bound for another host over redis:// or http:// is
refused before anything connects, unless opted in (then a warning at every start).

The non-loopback addresses below are only strings in settings: every check here decides from
the URL alone, and the opted-in cases build clients that have not connected (nothing is sent).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from services.cli.main import main
from services.composition import run
from vrs.errors import ConfigurationError
from vrs.redis_access.connection import redis_client
from vrs.security.plaintext_secrets import REDIS, refuse_plaintext_secret
from vrs.settings import RedisSettings

FAR = "10.255.255.1"
PASSWORD = "plain-s3cret-pw"


def far_redis(port: int, **overrides: object) -> RedisSettings:
    """A Redis on another host, over redis://, with a password (a distinct URL per test, so
    each sees its own once-per-process warning)."""
    values: dict[str, object] = {
        "url": f"redis://{FAR}:{port}/0",
        "password": SecretStr(PASSWORD),
        **overrides,
    }
    return RedisSettings.model_validate(values)


def test_redis_password_in_plaintext_to_another_host_is_refused_naming_the_settings() -> None:
    with pytest.raises(ConfigurationError) as refused:
        redis_client(far_redis(6379))
    message = str(refused.value)
    assert "VRS_REDIS_URL" in message and "rediss://" in message
    assert "VRS_REDIS_ALLOW_PLAINTEXT_SECRETS=true" in message
    assert PASSWORD not in message


def test_a_password_in_the_url_counts_as_a_secret() -> None:
    settings = RedisSettings(url=f"redis://:{PASSWORD}@{FAR}:6380/0")
    with pytest.raises(ConfigurationError, match="VRS_REDIS_ALLOW_PLAINTEXT_SECRETS") as refused:
        redis_client(settings)
    assert PASSWORD not in str(refused.value)


def test_opted_in_plaintext_secret_is_allowed_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="vrs.security.plaintext_secrets")
    # Built, never used: redis-py connects on the first command, and none is sent.
    client = redis_client(far_redis(6381, allow_plaintext_secrets=True))
    del client
    [record] = [r for r in caplog.records if r.name == "vrs.security.plaintext_secrets"]
    assert record.levelno == logging.WARNING
    assert "VRS_REDIS_ALLOW_PLAINTEXT_SECRETS" in record.getMessage()
    assert f"{FAR}:6381" in record.getMessage()
    assert PASSWORD not in caplog.text


def test_the_opt_in_warning_is_logged_once_per_start_not_per_client(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="vrs.security.plaintext_secrets")
    settings = far_redis(6382, allow_plaintext_secrets=True)
    for _ in range(3):  # the preflight check, the cache's client, the events' client
        redis_client(settings)
    assert len([r for r in caplog.records if r.name == "vrs.security.plaintext_secrets"]) == 1


@pytest.mark.parametrize(
    "url",
    ["redis://127.0.0.1:6379/0", "redis://127.9.0.1/0", "redis://localhost/0", "redis://[::1]/0"],
)
def test_loopback_is_exempt(url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="vrs.security.plaintext_secrets")
    redis_client(RedisSettings(url=url, password=SecretStr(PASSWORD)))
    assert not [r for r in caplog.records if r.name == "vrs.security.plaintext_secrets"]


def test_tls_or_no_secret_is_never_refused() -> None:
    redis_client(RedisSettings(url=f"rediss://{FAR}:6379/0", password=SecretStr(PASSWORD)))
    redis_client(RedisSettings(url=f"redis://{FAR}:6379/0", username="reader"))


@pytest.mark.parametrize("host", ["redis", "0.0.0.0", "localhost.example.com", "[fd00::1]"])
def test_any_other_host_is_refused(host: str) -> None:
    with pytest.raises(ConfigurationError, match="VRS_REDIS_ALLOW_PLAINTEXT_SECRETS"):
        refuse_plaintext_secret(f"redis://{host}:6379/0", True, False, REDIS)


def test_a_url_whose_host_cannot_be_told_is_refused_not_guessed_local() -> None:
    with pytest.raises(ConfigurationError, match="cannot tell its host"):
        refuse_plaintext_secret("redis://:pw@[127.0.0.1/0", True, False, REDIS)


def test_vrs_publish_refuses_too_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"redis://:{PASSWORD}@{FAR}:6383/0"
    assert main(["publish", "--redis-url", url, "--delete", "shirt-001"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "VRS_REDIS_ALLOW_PLAINTEXT_SECRETS" in err
    assert PASSWORD not in err


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """run() configures the root logger for a process; put the test runner's back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)


@pytest.mark.usefixtures("restored_logging")
def test_serve_refuses_to_start_before_loading_anything(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Only the cache uses this Redis (events off): still a refusal, not a warning.
    monkeypatch.setenv("VRS_REDIS_URL", f"redis://{FAR}:6384/0")
    monkeypatch.setenv("VRS_REDIS_PASSWORD", PASSWORD)
    monkeypatch.setenv("VRS_LOG_FORMAT", "text")
    assert run() == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "cannot start: VRS_REDIS_URL" in err and "VRS_REDIS_ALLOW_PLAINTEXT_SECRETS" in err
    assert PASSWORD not in err
