"""A port already taken refuses the start in one line that names the address and says it is
in use: no exception type, no raw gRPC line."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.support.redis_server import free_port
from tests.support.serve_process import error_lines, refused_start, serve_env


@pytest.mark.parametrize(
    ("variable", "name"),
    [
        ("VRS_GRPC_PORT", "gRPC: VRS_GRPC_HOST, VRS_GRPC_PORT"),
        ("VRS_WEB_PORT", "web gateway: VRS_WEB_HOST, VRS_WEB_PORT"),
        ("VRS_OBS_METRICS_PORT", "/metrics: VRS_OBS_METRICS_HOST, VRS_OBS_METRICS_PORT"),
    ],
)
def test_a_port_in_use_is_one_line_naming_the_address(
    tmp_path: Path, variable: str, name: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        overrides = {"VRS_GRPC_PORT": str(free_port()), variable: str(port)}
        result = refused_start(serve_env(tmp_path, **overrides))
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    [line] = error_lines(result)
    assert f"cannot start: 127.0.0.1:{port} ({name}) is in use" in line
    assert "RuntimeError" not in output and "Traceback" not in output
    assert "Failed to bind" not in output and "chttp2" not in output
