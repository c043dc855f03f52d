"""Holds a test that carries none of the marks of tests/conftest.py to starting nothing.

While such a test runs (its setup, call and teardown), whatever would start a child process,
a gRPC server, a CNN, a browser or deploy tooling raises StartForbidden instead, naming the
marks the test lacks; a test that swallows the exception fails all the same.

Child processes are caught by an audit hook (subprocess.Popen, os.system, os.fork, os.exec*,
os.posix_spawn, os.spawn*: asyncio's subprocesses too), the rest by patching what builds them:
grpc.server / grpc.aio.server, torch's convolution layers (every CNN, real or random, tiny or
not), tests.support.factories.build_engine and ImageEmbedder, selenium's Chrome driver,
kubernetes_validate.validate and the kustomize renders of tests.support. A module that is not
imported yet is patched as it is imported, so a test cannot dodge the guard by importing late.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

# The marks of tests/conftest.py; a test with none of them runs guarded.
KINDS = ("redis", "grpc", "subprocess", "cnn", "browser", "deploy")
# Child processes that are deploy tooling, by the executable's name.
DEPLOY_TOOLS = frozenset({"kubectl", "kustomize", "hadolint", "docker", "promtool", "helm"})
_SPAWN_EVENTS = frozenset(
    {"subprocess.Popen", "os.system", "os.fork", "os.forkpty", "os.posix_spawn", "os.exec"}
)
_SPAWN_PREFIXES = ("os.spawn",)
# Library functions whose child processes are a lookup, not something a test starts: (file,
# function). ctypes.util.find_library runs `ldconfig -p` (the decoders' malloc_trim finds libc).
LIBRARY_SPAWNERS = frozenset({("ctypes/util.py", "find_library")})


class StartForbidden(RuntimeError):
    """A test without marks tried to start something; the message names the marks it lacks."""


@dataclass(frozen=True)
class Watched:
    """`module.attribute` (a dotted path inside the module) starts something of `marks`."""

    module: str
    attribute: str
    marks: tuple[str, ...]
    what: str


# What the guard patches; every entry needs the marks it names.
WATCHED: tuple[Watched, ...] = (
    Watched("grpc", "server", ("grpc",), "a gRPC server (grpc.server)"),
    Watched("grpc.aio", "server", ("grpc",), "a gRPC server (grpc.aio.server)"),
    Watched("torch.nn.modules.conv", "_ConvNd.__init__", ("cnn",), "a CNN (a torch convolution)"),
    Watched("tests.support.factories", "build_engine", ("cnn",), "a CNN (build_engine)"),
    Watched(
        "services.embedder.embedding.embedder",
        "ImageEmbedder.__init__",
        ("cnn",),
        "an ImageEmbedder",
    ),
    Watched(
        "selenium.webdriver.chromium.webdriver",
        "ChromiumDriver.__init__",
        ("browser", "subprocess"),
        "a headless Chromium (selenium)",
    ),
    Watched("kubernetes_validate", "validate", ("deploy",), "kubernetes-validate"),
    Watched("tests.support.k8s_render", "_rendered", ("deploy", "subprocess"), "kubectl kustomize"),
    Watched(
        "tests.support.monitoring",
        "render_monitoring",
        ("deploy", "subprocess"),
        "kubectl kustomize (monitoring)",
    ),
)


def spawn_marks(event: str, args: Sequence[Any]) -> tuple[tuple[str, ...], str] | None:
    """The marks a process-starting audit event needs, and what it starts; None for others."""
    if event not in _SPAWN_EVENTS and not event.startswith(_SPAWN_PREFIXES):
        return None
    if event != "subprocess.Popen":
        return ("subprocess",), f"a child process ({event})"
    executable, argv = args[0], args[1]
    command = [str(a) for a in argv] if isinstance(argv, (list, tuple)) else [str(argv)]
    name = Path(str(executable or command[0])).name
    marks: tuple[str, ...] = ("subprocess",)
    if name == "redis-server":
        marks = ("redis", "subprocess")
    elif name in DEPLOY_TOOLS:
        marks = ("deploy", "subprocess")
    return marks, f"a child process ({' '.join(command)[:120]})"


@dataclass
class Guard:
    """One guarded test, and what it tried to start (its report fails on any of them)."""

    nodeid: str
    violations: list[str] = field(default_factory=list)

    def forbid(self, marks: Sequence[str], what: str) -> StartForbidden:
        message = (
            f"{self.nodeid} starts {what} but is not marked {' and '.join(marks)}: "
            "teach tests/conftest.py (FIXTURE_MARKS or IMPORT_MARKS) what starts it"
        )
        self.violations.append(message)
        return StartForbidden(message)


_active: Guard | None = None
_installed = False


def _spawned_by_a_library_lookup() -> bool:
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        path = Path(frame.f_code.co_filename)
        if (f"{path.parent.name}/{path.name}", frame.f_code.co_name) in LIBRARY_SPAWNERS:
            return True
        frame = frame.f_back
    return False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _active is None:
        return
    found = spawn_marks(event, args)
    if found is not None and not _spawned_by_a_library_lookup():
        raise _active.forbid(*found)


def _guarded(original: Callable[..., Any], watched: Watched) -> Callable[..., Any]:
    @functools.wraps(original)
    def refuse_while_guarded(*args: Any, **kwargs: Any) -> Any:
        if _active is not None:
            raise _active.forbid(watched.marks, watched.what)
        return original(*args, **kwargs)

    refuse_while_guarded.__vrs_guard__ = True  # type: ignore[attr-defined]
    return refuse_while_guarded


def _patch(module: ModuleType, watched: Watched) -> None:
    *owner_path, name = watched.attribute.split(".")
    owner: Any = module
    for part in owner_path:
        owner = getattr(owner, part)
    original = getattr(owner, name)
    if not getattr(original, "__vrs_guard__", False):
        setattr(owner, name, _guarded(original, watched))


class _PatchingLoader(importlib.abc.Loader):
    """Runs a module's loader, then patches what the guard watches in it."""

    def __init__(self, loader: importlib.abc.Loader, watched: list[Watched]) -> None:
        self._loader = loader
        self._watched = watched

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        for watched in self._watched:
            _patch(module, watched)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Patches watched modules that are imported after the guard was installed."""

    def __init__(self, pending: dict[str, list[Watched]]) -> None:
        self.pending = pending

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        watched = self.pending.pop(fullname, None)
        if watched is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _PatchingLoader(spec.loader, watched)
                return spec
        return None


def install() -> None:
    """Patches what WATCHED names (now, or as it is imported) and adds the audit hook; the
    patches do nothing until a guarded test runs. Installs once per process."""
    global _installed
    if _installed:
        return
    _installed = True
    pending: dict[str, list[Watched]] = {}
    for watched in WATCHED:
        module = sys.modules.get(watched.module)
        if module is not None:
            _patch(module, watched)
        elif importlib.util.find_spec(watched.module.split(".")[0]) is not None:
            pending.setdefault(watched.module, []).append(watched)
    sys.meta_path.insert(0, _PatchOnImport(pending))
    sys.addaudithook(_audit)


@contextmanager
def guarding(nodeid: str) -> Iterator[Guard]:
    """Starting anything forbidden while the block runs, on behalf of test `nodeid`."""
    global _active
    outer, guard = _active, Guard(nodeid)
    _active = guard
    try:
        yield guard
    finally:
        _active = outer
