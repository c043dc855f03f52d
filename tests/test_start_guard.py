"""The guard that holds the tests without marks (tests/conftest.py) to starting nothing: what
it refuses, what it says, and what it lets through."""

from __future__ import annotations

import contextlib
import ctypes.util
import os

import grpc
import pytest
import torch

from tests.support.start_guard import KINDS, StartForbidden, guarding, spawn_marks


def test_a_child_process_is_refused_naming_the_mark_the_test_lacks() -> None:
    with guarding("tests/x.py::test_x"), pytest.raises(StartForbidden) as refused:
        os.system("true")
    assert "tests/x.py::test_x starts a child process (os.system)" in str(refused.value)
    assert "not marked subprocess" in str(refused.value)


def test_a_redis_server_needs_the_redis_mark_and_kubectl_the_deploy_mark() -> None:
    redis = spawn_marks("subprocess.Popen", ("/usr/bin/redis-server", ["redis-server"], None, None))
    kubectl = spawn_marks("subprocess.Popen", (None, ["kubectl", "kustomize", "."], None, None))
    assert redis is not None and redis[0] == ("redis", "subprocess")
    assert kubectl is not None and kubectl[0] == ("deploy", "subprocess")
    assert spawn_marks("open", ("/etc/hosts", "r", 0)) is None


def test_a_grpc_server_is_refused() -> None:
    with guarding("t"), pytest.raises(StartForbidden, match=r"a gRPC server .* not marked grpc"):
        grpc.aio.server()


def test_a_cnn_is_refused_however_small() -> None:
    with guarding("t"), pytest.raises(StartForbidden, match=r"a CNN .* not marked cnn"):
        torch.nn.Conv2d(3, 8, 3)


def test_a_refusal_the_test_swallows_is_still_recorded_to_fail_it() -> None:
    with guarding("t") as guard, contextlib.suppress(StartForbidden):
        os.system("true")
    assert len(guard.violations) == 1


def test_a_library_looking_up_a_shared_library_may_run_ldconfig() -> None:
    with guarding("t") as guard:
        ctypes.util.find_library("c")
    assert guard.violations == []


def test_every_mark_is_registered(pytestconfig: pytest.Config) -> None:
    registered = {line.split(":")[0] for line in pytestconfig.getini("markers")}
    assert set(KINDS) <= registered


def test_this_module_starts_nothing_so_it_runs_guarded(request: pytest.FixtureRequest) -> None:
    assert not any(request.node.get_closest_marker(kind) for kind in KINDS)
