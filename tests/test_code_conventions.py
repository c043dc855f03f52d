"""House rules read from the source: every public class says what it holds in a docstring."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _sources() -> list[Path]:
    return sorted(
        path
        for top in ("vrs", "services")
        for path in (ROOT / top).rglob("*.py")
        if "v1" not in path.relative_to(ROOT).parts  # generated protobuf code
    )


def test_every_public_class_has_a_docstring() -> None:
    missing = [
        f"{path.relative_to(ROOT)}: {node.name}"
        for path in _sources()
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.ClassDef)
        and not node.name.startswith("_")
        and ast.get_docstring(node) is None
    ]
    assert missing == []
