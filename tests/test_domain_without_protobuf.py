"""Domain code never touches the gRPC contract's types: conversions live at the edge
(vrs/rpc/convert.py and the servicers)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOMAIN_GLOBS = (
    "services/embedder/events/*.py",
    "services/embedder/catalog/*.py",
    "services/embedder/embedding/*.py",
    "services/search/searcher.py",
    "vrs/catalog/*.py",
    "vrs/store/*.py",
)
DOMAIN = sorted({path for pattern in DOMAIN_GLOBS for path in ROOT.glob(pattern)})
CONTRACT = "vrs.v1"


def imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


@pytest.mark.parametrize("path", DOMAIN, ids=[str(p.relative_to(ROOT)) for p in DOMAIN])
def test_domain_module_does_not_import_the_grpc_contract(path: Path) -> None:
    contract = {m for m in imported_modules(path) if m == CONTRACT or m.startswith(CONTRACT + ".")}
    assert not contract, f"{path.relative_to(ROOT)} imports {sorted(contract)}"


@pytest.mark.parametrize("pattern", DOMAIN_GLOBS)
def test_every_domain_pattern_names_code(pattern: str) -> None:
    assert list(ROOT.glob(pattern)), f"{pattern} matches nothing: the domain moved"
