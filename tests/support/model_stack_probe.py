"""What a fresh process imports of the embedder's model stack (torch, torchvision, timm).

Run in a subprocess, since the test process itself has loaded the model stack long before:

    python -m tests.support.model_stack_probe search-server  # a search server answers a query
    python -m tests.support.model_stack_probe cli            # every CLI module; `vrs serve
                                                             #   --service search` refusing
    python -m tests.support.model_stack_probe embedder       # the embedder service's module
    python -m tests.support.model_stack_probe without-model-stack ARGS...  # `vrs ARGS` as if
                                                             #   the model stack were not installed

Prints one JSON object as its last line: the model stack modules loaded, and what the step saw.
Imports nothing of vrs before the step runs (tests/support's other modules load the model).
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.abc
import importlib.machinery
import json
import os
import pkgutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

MODEL_STACK = ("torch", "torchvision", "timm", "openvino")
REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class ProbeResult:
    """A probe's exit code, output, and the report it printed last."""

    returncode: int
    output: str
    report: dict[str, Any]

    @property
    def loaded(self) -> list[str]:
        """The model stack modules the probed process had imported."""
        return list(self.report["loaded"])


def probe(*args: str, env: dict[str, str] | None = None, timeout_s: float = 120) -> ProbeResult:
    """Runs this module in a fresh interpreter; no VRS_* variable of the caller's leaks in."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("VRS_")}
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.model_stack_probe", *args],
        cwd=REPO,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    report = json.loads(lines[-1]) if lines else {}
    return ProbeResult(done.returncode, done.stdout + done.stderr, report)


class _NoModelStack(importlib.abc.MetaPathFinder):
    """Makes the model stack look uninstalled, as in a search-only image."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] in MODEL_STACK:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


async def _serve_search_and_query() -> dict[str, Any]:
    """A search server started the way `vrs serve --service search` starts it, on a
    qdrant-client ':memory:' store; the embedder fleet it names is never reached."""
    import grpc
    from qdrant_client import QdrantClient

    from services.composition import create_server
    from vrs.settings import Settings, StoreSettings
    from vrs.store.async_store import AsyncStore
    from vrs.store.qdrant_server_store import QdrantServerStore
    from vrs.v1 import search_pb2, search_pb2_grpc

    settings = Settings.model_validate(
        {
            "server": {"host": "127.0.0.1", "port": 0, "shutdown_grace_s": 1.0},
            "search": {"embedder_address": "127.0.0.1:9"},
            "log": {"level": "ERROR"},
        }
    )
    store = QdrantServerStore.open_for_writing(
        QdrantClient(":memory:"), StoreSettings(), "probe@00000000", 4
    )
    server, port = await create_server(settings, "search", store=AsyncStore(store, 10.0))
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            try:
                await search_pb2_grpc.SearchServiceStub(channel).SearchByProduct(
                    search_pb2.SearchByProductRequest(product_id="absent"), timeout=10
                )
                code = "OK"
            except grpc.aio.AioRpcError as exc:
                code = exc.code().name
    finally:
        await server.stop(1)
        store.close()
    return {"search_by_product": code}


def _cli() -> dict[str, Any]:
    """Imports every CLI module, then runs `vrs serve --service search` against a Qdrant
    server that is not there (the environment says where): it refuses to start."""
    import services.cli
    from services.cli.main import main

    modules = sorted(m.name for m in pkgutil.walk_packages(services.cli.__path__, "services.cli."))
    for name in modules:
        importlib.import_module(name)
    return {"modules": modules, "serve_search_exit": main(["serve", "--service", "search"])}


def _run(step: str, args: list[str]) -> dict[str, Any]:
    if step == "search-server":
        return asyncio.run(_serve_search_and_query())
    if step == "cli":
        return _cli()
    if step == "embedder":
        importlib.import_module("services.embedder.wiring")
        return {}
    if step == "without-model-stack":
        sys.meta_path.insert(0, _NoModelStack())
        from services.cli.main import main

        return {"exit": main(args)}
    raise SystemExit(f"unknown step {step!r}")


if __name__ == "__main__":
    report = _run(sys.argv[1], sys.argv[2:])
    report["loaded"] = sorted(m for m in MODEL_STACK if m in sys.modules)
    print(json.dumps(report))
