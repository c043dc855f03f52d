"""A search-only process and the CLI never load the embedder's model stack (torch & co.):
search pods scale out on CPU nodes without it, in an image that does not carry it."""

from __future__ import annotations

from pathlib import Path

from tests.support.model_stack_probe import probe
from tests.support.redis_server import free_port
from tests.support.serve_process import serve_env


def test_a_search_server_answers_without_importing_the_model_stack() -> None:
    result = probe("search-server")
    assert result.returncode == 0, result.output
    assert result.report["search_by_product"] == "NOT_FOUND"  # it served a real query
    assert result.loaded == []


def test_the_cli_and_vrs_serve_search_never_import_the_model_stack(tmp_path: Path) -> None:
    # Qdrant is not there: `vrs serve --service search` goes as far as refusing to start.
    env = serve_env(
        tmp_path,
        VRS_QDRANT_URL=f"http://127.0.0.1:{free_port()}",
        VRS_QDRANT_PREFER_GRPC="false",
        VRS_QDRANT_TIMEOUT_S="2",
    )
    result = probe("cli", env=env)
    assert result.returncode == 0, result.output
    assert "services.cli.main" in result.report["modules"]
    assert "services.cli.ops" in result.report["modules"]
    assert result.report["serve_search_exit"] == 2
    assert "cannot start" in result.output
    assert result.loaded == []


def test_the_embedder_does_import_the_model_stack() -> None:
    # The probe can tell: the checks above would see torch if search or the CLI loaded it.
    result = probe("embedder")
    assert result.returncode == 0, result.output
    assert "torch" in result.loaded
