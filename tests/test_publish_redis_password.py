"""`vrs publish` authenticates like the services (VRS_REDIS_PASSWORD wins over the URL's)
and its errors never show a password."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from services.cli.main import main
from tests.support.redis_server import RedisServer, free_port

PASSWORD = "publish-s3cret"
STREAM = "vrs:catalog-events"


@pytest.fixture
def locked_redis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RedisServer]:
    """A redis-server that asks for PASSWORD; no VRS_REDIS_* of the caller's leaks in."""
    for name in ("VRS_REDIS_PASSWORD", "VRS_REDIS_URL", "VRS_EVENTS_STREAM"):
        monkeypatch.delenv(name, raising=False)
    server = RedisServer(tmp_path, password=PASSWORD)
    server.start()
    yield server
    server.stop()


def publish_delete(redis_url: str) -> int:
    return main(["publish", "--redis-url", redis_url, "--delete", "shirt-001"])


def stream_length(server: RedisServer) -> int:
    with redis.Redis(port=server.port, password=PASSWORD) as client:
        return int(client.xlen(STREAM))


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "s3cret" not in captured.out + captured.err
    return lines[0]


def test_publish_authenticates_with_vrs_redis_password(
    locked_redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VRS_REDIS_PASSWORD", PASSWORD)
    assert publish_delete(locked_redis.url) == 0
    assert stream_length(locked_redis) == 1


def test_vrs_redis_password_wins_over_the_urls(
    locked_redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VRS_REDIS_PASSWORD", PASSWORD)
    assert publish_delete(f"redis://:stale-s3cret@127.0.0.1:{locked_redis.port}/0") == 0
    assert stream_length(locked_redis) == 1


def test_refused_password_is_one_line_without_the_password(
    locked_redis: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert publish_delete(f"redis://:wrong-s3cret@127.0.0.1:{locked_redis.port}/0") == 1
    line = one_line(capsys)
    assert line.startswith("vrs publish: cannot publish: Redis at redis://***@127.0.0.1:")
    assert "refused the password" in line


def test_unreachable_redis_is_one_line_without_the_password(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VRS_REDIS_PASSWORD", "env-s3cret")
    port = free_port()
    assert publish_delete(f"redis://user:url-s3cret@127.0.0.1:{port}/0") == 1
    line = one_line(capsys)
    assert f"Redis unavailable: redis://***@127.0.0.1:{port}/0" in line
