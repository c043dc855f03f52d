"""Without the model stack installed (a search-only install), what needs it says what to
install instead of failing with an import error."""

from __future__ import annotations

from pathlib import Path

from tests.support.model_stack_probe import probe
from tests.support.serve_process import serve_env


def test_vrs_serve_embedder_refuses_to_start_naming_the_install(tmp_path: Path) -> None:
    result = probe("without-model-stack", "serve", "--service", "embedder", env=serve_env(tmp_path))
    assert result.report["exit"] == 2
    assert "cannot start: the embedder service needs the model stack" in result.output
    assert "pip install 'vrs[embedder]'" in result.output
    assert result.loaded == []


def test_vrs_fetch_weights_fails_in_one_line_naming_the_install(tmp_path: Path) -> None:
    result = probe("without-model-stack", "fetch-weights", env=serve_env(tmp_path))
    assert result.report["exit"] == 1
    assert "vrs fetch-weights: fetching model weights needs the model stack" in result.output
    assert "pip install 'vrs[embedder]'" in result.output
    assert "Traceback" not in result.output
