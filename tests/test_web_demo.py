"""`make web` (python -m services.demos.web_demo): what a new user sees when it cannot start."""

from __future__ import annotations

import os
import socket
import subprocess
import sys


def test_make_web_says_at_once_when_its_port_is_taken() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("VRS_")}
        result = subprocess.run(
            [sys.executable, "-m", "services.demos.web_demo"],
            env={**env, "VRS_WEB_PORT": str(port)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert f"VRS_WEB_PORT={port + 1} make web" in result.stderr
    assert "model:" not in result.stdout, "it stops before loading the model"
