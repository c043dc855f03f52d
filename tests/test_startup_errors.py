"""Startup refusals as an operator sees them: one `cannot start:` line, exit code 2, no
traceback, no secret; the Qdrant port actually dialled is named."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.composition import run
from tests.support.redis_server import RedisServer, free_port
from tests.support.serve_process import error_lines, refused_start, serve_env
from vrs.errors import Unavailable
from vrs.settings import StoreSettings
from vrs.store.qdrant_server_store import connect

# A `vrs serve` subprocess imports torch (and for some, loads a model) before refusing.
slow_start = pytest.mark.slow


def assert_one_line_refusal(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    errors = error_lines(result)
    assert len(errors) == 1, output
    assert "cannot start: " in errors[0]
    for needle in needles:
        assert needle in errors[0], errors[0]
    return output


@slow_start
def test_unreachable_qdrant_names_the_grpc_port_dialled_without_secrets(tmp_path: Path) -> None:
    rest_port, grpc_port = free_port(), free_port()
    result = refused_start(
        serve_env(
            tmp_path,
            VRS_QDRANT_URL=f"http://admin:qd-url-secret@127.0.0.1:{rest_port}",
            VRS_QDRANT_API_KEY="qd-api-key-secret",
            VRS_QDRANT_GRPC_PORT=str(grpc_port),
        )
    )
    output = assert_one_line_refusal(
        result, "Qdrant unavailable", f"127.0.0.1:{rest_port} via gRPC port {grpc_port}"
    )
    assert "qd-url-secret" not in output and "qd-api-key-secret" not in output


@slow_start
def test_unreachable_events_redis_is_refused(tmp_path: Path) -> None:
    port = free_port()
    result = refused_start(
        serve_env(
            tmp_path,
            VRS_EVENTS_ENABLED="true",
            VRS_REDIS_URL=f"redis://127.0.0.1:{port}/0",
        )
    )
    assert_one_line_refusal(result, "Redis unavailable", f"127.0.0.1:{port}")


@slow_start
def test_wrong_redis_password_is_refused_without_showing_it(tmp_path: Path) -> None:
    redis = RedisServer(tmp_path, password="the-right-pw")
    redis.start()
    try:
        result = refused_start(
            serve_env(
                tmp_path,
                VRS_EVENTS_ENABLED="true",
                VRS_REDIS_URL=redis.url,
                VRS_REDIS_PASSWORD="a-wrong-pw",
            )
        )
    finally:
        redis.stop()
    output = assert_one_line_refusal(result, "refused the password", f"127.0.0.1:{redis.port}")
    assert "a-wrong-pw" not in output and "the-right-pw" not in output


def test_unreachable_qdrant_over_rest_names_the_urls_port() -> None:
    port = free_port()
    settings = StoreSettings(url=f"http://127.0.0.1:{port}", prefer_grpc=False, timeout_s=2)
    with pytest.raises(Unavailable, match=f"via REST port {port}"):
        connect(settings)


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
def test_invalid_setting_is_refused_naming_the_variable_not_its_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VRS_GRPC_PORT", "not-a-port-s3cret")
    assert run() == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "cannot start: invalid settings: VRS_GRPC_PORT" in err
    assert "s3cret" not in err


@pytest.mark.usefixtures("restored_logging")
def test_unforeseen_startup_failure_is_one_line_with_its_type(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Every failure vrs foresees is classified; a bug is what is left: injected here, since
    # no setting reaches one.
    async def bug(*_: object) -> None:
        raise RuntimeError("a bug\nover two lines")

    monkeypatch.setattr("services.composition.preflight", bug)
    monkeypatch.setenv("VRS_GRPC_PORT", "0")
    assert run() == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "cannot start: unexpected RuntimeError: a bug over two lines" in err
    assert "Traceback" not in err
