"""Every `vrs` CLI error is one line and a non-zero exit code; tracebacks only on request."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.cli.main import main
from tests.support.redis_server import free_port
from tests.support.vector_files import BAD_NPZ, pickled_npy

# Nothing listens here: the commands below fail before they would need a server.
DEAD_ADDRESS = f"127.0.0.1:{free_port()}"

EXPECTED = {
    "string_vectors": "'vectors' holds <U3 values, not numbers",
    "object_vectors": "vectors holds Python objects (a pickle)",
    "object_ids": "ids holds Python objects (a pickle)",
    "float_ids": "'ids' holds float64 values",
    "missing_vectors": "lacks ['vectors']",
    "not_a_zip": "not a .npz file (neither a zip archive nor a .npy array)",
    "truncated": "cannot read the archive (BadZipFile",
    "npy_named_npz": "not a .npz file (it is a .npy file)",
    "non_utf8_ids": "ids holds bytes that are not UTF-8",
    "mismatched_lengths": "3 ids for vectors of shape (2, 4)",
}


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("name", sorted(BAD_NPZ))
def test_unusable_npz_is_one_line_naming_the_problem(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "vectors.npz"
    BAD_NPZ[name](path)
    code = main(["--address", DEAD_ADDRESS, "import-vectors", str(path), "--model-id", "m@1"])
    line = one_error_line(capsys)
    assert code == 1
    assert line.startswith(f"vrs import-vectors: {path}: ")
    assert EXPECTED[name] in line


def test_pickled_npy_is_refused_without_unpickling(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "vectors.npy"
    pickled_npy(path)
    code = main(["--address", DEAD_ADDRESS, "import-vectors", str(path), "--model-id", "m@1"])
    assert code == 1
    assert "holds Python objects (a pickle), which vrs never loads" in one_error_line(capsys)


def test_catalog_that_is_not_utf8_is_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "catalog.csv"
    path.write_bytes(b"product_id,title,category,brand,price,currency,image\n\xff\xfe,\xff\n")
    code = main(["--address", DEAD_ADDRESS, "index", str(path)])
    assert code == 1
    assert one_error_line(capsys).startswith(f"vrs index: {path}: not UTF-8 text")


def test_jsonl_line_that_is_not_an_object_is_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "catalog.jsonl"
    path.write_text('{"product_id": "p1", "image": "p1.jpg"}\n[1, 2]\n')
    code = main(["--address", DEAD_ADDRESS, "index", str(path)])
    assert code == 1
    assert one_error_line(capsys) == f"vrs index: {path}:2: a product is a JSON object, not list"


def nul_in_image_path(tmp_path: Path) -> Path:
    """A catalog no check in the CLI foresees: the OS refuses the image path itself."""
    path = tmp_path / "catalog.jsonl"
    path.write_text('{"product_id": "p1", "image": "p1\\u0000.jpg"}\n')
    return path


def test_unforeseen_error_is_one_line_with_its_type(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VRS_LOG_LEVEL", raising=False)
    code = main(["--address", DEAD_ADDRESS, "index", str(nul_in_image_path(tmp_path))])
    assert code == 1
    assert one_error_line(capsys) == "vrs index: error: ValueError: embedded null byte"


def test_debug_flag_shows_the_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--debug", "--address", DEAD_ADDRESS, "index", str(nul_in_image_path(tmp_path))])
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback (most recent call last)" in err
    assert err.strip().splitlines()[-1] == "vrs index: error: ValueError: embedded null byte"


def test_usage_error_is_one_line_and_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["import-vectors"])
    assert exit_.value.code == 2
    line = one_error_line(capsys)
    assert line.startswith("vrs import-vectors: error: the following arguments are required")


def test_invalid_setting_is_one_line_naming_the_variable_not_its_value(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VRS_REDIS_TIMEOUT_MS", "soon-s3cret")
    code = main(["publish", "--redis-url", "redis://127.0.0.1:1/0", "--delete", "p1"])
    line = one_error_line(capsys)
    assert code == 1
    assert line.startswith("vrs publish: invalid settings: VRS_REDIS_TIMEOUT_MS: ")
    assert "s3cret" not in line
