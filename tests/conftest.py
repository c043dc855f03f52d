"""Registers the shared fixtures (tests/support/fixtures.py) and marks every test by what it
starts, so `make test-unit` can run the tests that start nothing in seconds.

The marks (registered in pyproject.toml):
    redis       a redis-server process
    grpc        a gRPC server
    subprocess  any child process (vrs serve, redis-server, python probes, kubectl, ...)
    cnn         a real or random CNN (the engine fixtures, build_engine, an ImageEmbedder)
    browser     headless Chromium
    deploy      deploy tooling (kubectl kustomize, kubernetes-validate, hadolint, promtool, the
                compose scripts)

A test gets them from what it uses, never from a hand-written mark:
- FIXTURE_MARKS: a fixture anywhere in its closure (item.fixturenames) starts them;
- IMPORT_MARKS: it uses something its module imports that starts them ("module" for anything
  from the module, "module:name" for one builder of a module that also holds pure helpers).
  What a test uses is every name its code reaches: its function, its module's fixtures in its
  closure, and the module's own helpers these call, transitively (names_used); an import made
  inside a function counts for every test of the module;
- DEPLOY_TOOLING_MODULES: the child processes of these test modules are deploy tooling.

A test with none of the marks runs under tests/support/start_guard.py: starting any of those
things fails it, naming the mark it lacks. So `-m "not (redis or grpc or ...)"` really is the
set of tests that start nothing.
"""

from __future__ import annotations

import ast
import functools
import inspect
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import CodeType

import pytest

from tests.support import start_guard

pytest_plugins = ["tests.support.fixtures"]

KINDS = start_guard.KINDS
REDIS = ("redis", "subprocess")
GRPC = ("grpc",)
SUBPROCESS = ("subprocess",)
CNN = ("cnn",)
BROWSER = ("browser", "subprocess")
DEPLOY = ("deploy", "subprocess")

# Shared fixtures that start something themselves (those built on them inherit it through the
# closure: `effnet` needs `effnet_engine`, `pipeline` needs `redis_server`).
FIXTURE_MARKS: dict[str, tuple[str, ...]] = {
    "effnet_engine": CNN,
    "inception_engine": CNN,
    "redis_server": REDIS,
    "start_vrs": GRPC,  # and so `vrs`, `searching_vrs` and every module's own `vrs`
}

# What importing a name (or anything) from a module brings: the builders that start things.
IMPORT_MARKS: dict[str, tuple[str, ...]] = {
    # child processes, run by the test module itself
    "subprocess": SUBPROCESS,
    "tests.support.serve_process": SUBPROCESS,  # vrs serve
    "tests.support.embedder_processes": SUBPROCESS,  # a fleet of vrs serve embedders
    "tests.support.web_server": SUBPROCESS,  # vrs serve --service web
    "tests.support.model_stack_probe": SUBPROCESS,  # python probes without torch
    "tests.support.memory_probe": SUBPROCESS,  # a python that measures its own peak RSS
    "tests.support.redis_server:RedisServer": REDIS,
    "tests.support.redis_tls": REDIS,
    # gRPC servers
    "services.composition:create_server": GRPC,
    "services.composition:run": GRPC,
    "services.composition:start_web_alone": GRPC,
    "tests.support.search_env:running_vrs": GRPC,
    "tests.support.auth_env:secured_vrs": GRPC,
    "tests.support.faulty:running_buggy_vrs": GRPC,
    "tests.support.servers": GRPC,
    "tests.support.stub_services": GRPC,
    "tests.support.tls_env:bare_server": GRPC,
    "tests.support.web_env": GRPC,
    # CNNs built by the test module itself
    "tests.support.factories:build_engine": CNN,
    "services.embedder.models.weights:load_model": CNN,
    "services.embedder.models.backbones:BACKBONES": CNN,
    "torch:nn": CNN,
    "tests.support.tiny_model": CNN,
    # browsers and deploy tooling
    "selenium": BROWSER,
    "tests.support.browser": BROWSER,
    "kubernetes_validate": DEPLOY,
    "tests.support.k8s_render:render": DEPLOY,
    "tests.support.monitoring:render_monitoring": DEPLOY,
}

# Test modules whose own child processes are deploy tooling (hadolint, promtool, the compose
# scripts deploy/docker/dev-*.sh): there a test that starts a child process is `deploy` too.
DEPLOY_TOOLING_MODULES = ("test_deploy*.py", "test_compose*.py")


@dataclass(frozen=True)
class ModuleImports:
    """A test module's imports: by the name each binds at module level ("module" and
    "module:name" keys), and those made inside functions (counted for every test)."""

    bound: dict[str, frozenset[str]]
    nested: frozenset[str]


@functools.cache
def imports_of(path: Path) -> ModuleImports:
    tree = ast.parse(path.read_text(), str(path))
    bound: dict[str, set[str]] = {}
    nested: set[str] = set()
    top_level = set(tree.body)
    for node in ast.walk(tree):
        keys: dict[str, set[str]] = {}
        if isinstance(node, ast.Import):
            for alias in node.names:
                keys.setdefault(alias.asname or alias.name.split(".")[0], set()).add(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                name = alias.asname or alias.name
                keys.setdefault(name, set()).update({node.module, f"{node.module}:{alias.name}"})
        for name, found in keys.items():
            if node in top_level:
                bound.setdefault(name, set()).update(found)
            else:
                nested.update(found)
    return ModuleImports({k: frozenset(v) for k, v in bound.items()}, frozenset(nested))


def _code_names(code: CodeType) -> Iterator[str]:
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from _code_names(const)


def names_used(item: pytest.Item) -> set[str]:
    """The module-level names a test's code reaches: its function and its module's fixtures
    in its closure, and the module's own functions and classes these use, transitively."""
    if not isinstance(item, pytest.Function):
        return set()
    module = item.module
    roots: list[object] = [item.function]
    for fixturedefs in item._fixtureinfo.name2fixturedefs.values():
        roots.extend(d.func for d in fixturedefs if d.func.__module__ == module.__name__)
    used: set[str] = set()
    seen: set[int] = set()
    while roots:
        obj = inspect.unwrap(roots.pop())  # type: ignore[arg-type]
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if inspect.isclass(obj):
            roots.extend([*obj.__bases__, *vars(obj).values()])
            continue
        code = getattr(obj, "__code__", None)
        if code is None:
            continue
        for name in _code_names(code):
            used.add(name)
            target = vars(module).get(name)
            if getattr(target, "__module__", None) == module.__name__:
                roots.append(target)
    return used


def import_marks(keys: Iterable[str]) -> set[str]:
    """The marks of IMPORT_MARKS entries matching these "module" / "module:name" keys."""
    marks: set[str] = set()
    for key in keys:
        module, _, attribute = key.partition(":")
        parts = module.split(".")
        # `import selenium.webdriver` and `from selenium.webdriver.common.by import By` are
        # both "selenium"; a "module:name" entry needs that very name.
        for depth in range(1, len(parts) + 1):
            marks.update(IMPORT_MARKS.get(".".join(parts[:depth]), ()))
        if attribute:
            marks.update(IMPORT_MARKS.get(key, ()))
    return marks


def marks_of(item: pytest.Item) -> set[str]:
    """The marks of what `item` starts: through its fixtures and what it uses of its module's
    imports."""
    marks: set[str] = set()
    for fixture in getattr(item, "fixturenames", ()):
        marks.update(FIXTURE_MARKS.get(fixture, ()))
    path = getattr(item, "path", None)
    if path is not None and path.suffix == ".py":
        imports = imports_of(path)
        used = names_used(item)
        marks.update(import_marks(imports.nested))
        for name, keys in imports.bound.items():
            if name in used:
                marks.update(import_marks(keys))
        if "subprocess" in marks and any(map(path.match, DEPLOY_TOOLING_MODULES)):
            marks.update(DEPLOY)
    return marks


def pytest_configure(config: pytest.Config) -> None:
    start_guard.install()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for mark in sorted(marks_of(item)):
            item.add_marker(mark)


def _starts_nothing(item: pytest.Item) -> bool:
    return not any(item.get_closest_marker(kind) for kind in KINDS)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    return (yield from _guarded(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    return (yield from _guarded(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    return (yield from _guarded(item))


def _guarded(item: pytest.Item) -> Generator[None, None, None]:
    """Runs one phase of `item` under the start guard when it carries none of the marks (its
    session fixtures set up on its behalf included)."""
    if not _starts_nothing(item):
        return (yield)
    with start_guard.guarding(item.nodeid) as guard:
        try:
            return (yield)
        finally:
            item.stash.setdefault(_VIOLATIONS, []).extend(guard.violations)


_VIOLATIONS = pytest.StashKey[list[str]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A test that caught the guard's StartForbidden and went on fails all the same."""
    report = yield
    violations = item.stash.get(_VIOLATIONS, [])
    if violations and report.passed:
        report.outcome = "failed"
        report.longrepr = "\n".join(violations)
    item.stash[_VIOLATIONS] = []
    return report
