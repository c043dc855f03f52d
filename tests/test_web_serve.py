"""`vrs serve --service web` as an operator runs it: the real CLI in a subprocess."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.support.redis_server import free_port
from tests.support.serve_process import VRS, error_lines, serve_env

START_LIMIT_S = 60.0


def test_the_gateway_alone_serves_health_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    dead = f"127.0.0.1:{free_port()}"
    env = serve_env(
        tmp_path,
        VRS_WEB_PORT=str(port),
        VRS_WEB_SEARCH_ADDRESS=dead,
        VRS_WEB_EMBEDDER_ADDRESS=dead,
    )
    process = subprocess.Popen(
        [str(VRS), "serve", "--service", "web"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + START_LIMIT_S
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2.0)
                break
            except httpx.HTTPError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
        assert health.status_code == 200
        # Nothing behind it answers: not ready, and it says which service.
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=30.0)
        assert ready.status_code == 503
        assert "search service unavailable" in ready.json()["error"]["message"]
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output


def test_a_gateway_open_to_the_network_without_auth_refuses_to_start(tmp_path: Path) -> None:
    env = serve_env(
        tmp_path,
        VRS_WEB_HOST="0.0.0.0",
        VRS_WEB_PORT=str(free_port()),
        VRS_WEB_SEARCH_ADDRESS="127.0.0.1:1",
        VRS_WEB_EMBEDDER_ADDRESS="127.0.0.1:1",
    )
    result = subprocess.run(
        [str(VRS), "serve", "--service", "web"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    [line] = error_lines(result)
    assert "cannot start: refusing to serve the web gateway on 0.0.0.0" in line
    assert "VRS_AUTH_TOKENS_FILE" in line


def test_the_gateway_alone_needs_the_services_addresses(tmp_path: Path) -> None:
    env = serve_env(tmp_path, VRS_WEB_PORT=str(free_port()))
    result = subprocess.run(
        [str(VRS), "serve", "--service", "web"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    [line] = error_lines(result)
    assert "VRS_WEB_SEARCH_ADDRESS and VRS_WEB_EMBEDDER_ADDRESS" in line
