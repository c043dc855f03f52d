"""Domain code never touches the gRPC contract's types: conversions live at the edge
(vrs/proto_convert.py and the servicers)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOMAIN = sorted(
    {
        *ROOT.glob("services/embedder/events/*.py"),
        ROOT / "services/embedder/catalog_writer.py",
        ROOT / "services/embedder/embedding.py",
        ROOT / "services/search/searcher.py",
        ROOT / "vrs/catalog.py",
        *ROOT.glob("vrs/store/*.py"),
    }
)
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
