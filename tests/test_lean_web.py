"""The web gateway never loads the model stack: `vrs serve --service web` runs from the
search-only image."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL_STACK = ("torch", "torchvision", "timm")
PROBE = f"""
import json, sys
import services.composition, services.web.app, services.web.wiring
import services.web.grpc_backend, services.web.local_backend
print(json.dumps([m for m in {MODEL_STACK!r} if m in sys.modules]))
"""


def test_the_gateway_imports_without_the_model_stack() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
