"""The layering rule, read from the source (AST): `vrs` never imports `services`, and no
package imports in a circle (a package being a folder and the modules directly in it)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOP_LEVEL = ("vrs", "services")


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for top in TOP_LEVEL:
        for path in (ROOT / top).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _imported(name: str, path: Path) -> Iterator[str]:
    """Every vrs or services module `name` imports, at any depth of its code (functions and
    TYPE_CHECKING blocks included: a lazy import is still a dependency)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            if target.split(".")[0] in TOP_LEVEL:
                known = _known_module(target)
                if known is not None:
                    yield known


def _known_module(target: str) -> str | None:
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def _package_of(module: str) -> str:
    return module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]


def _edges() -> dict[str, set[str]]:
    """package -> the packages its own modules import (itself left out)."""
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        source = _package_of(module)
        graph.setdefault(source, set())
        for target in _imported(module, path):
            package = _package_of(target)
            if package != source:
                graph[source].add(package)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph`, as the packages along it, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_library_never_imports_the_applications() -> None:
    offenders = sorted(
        f"{module} imports {target}"
        for module, path in MODULES.items()
        if module.split(".")[0] == "vrs"
        for target in _imported(module, path)
        if target.split(".")[0] == "services"
    )
    assert offenders == []


def test_no_package_imports_in_a_circle() -> None:
    cycle = _cycle(_edges())
    assert cycle is None, "packages import in a circle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize(
    ("graph", "circular"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, False),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, True),
        ({"a": {"a.b"}, "a.b": {"a"}}, True),
    ],
)
def test_the_cycle_finder_finds_cycles(graph: dict[str, set[str]], circular: bool) -> None:
    assert (_cycle(graph) is not None) is circular


def test_the_library_root_keeps_only_a_few_modules() -> None:
    loose = sorted(p.name for p in (ROOT / "vrs").glob("*.py") if p.name != "__init__.py")
    assert len(loose) <= 6, loose
