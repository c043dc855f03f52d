"""Bearer tokens against a real vrs server: no token and unknown tokens are UNAUTHENTICATED
(and never echoed), and the tokens file is re-read while serving: a revoked token stops
working and a new one starts working without a restart."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import grpc
import pytest

from services.cli.token import new_token
from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.auth_env import (
    RELOAD_S,
    client_of,
    replace_file,
    secured_vrs,
    status_of,
    write_tokens_file,
)
from tests.support.search_env import running_vrs
from vrs.auth.tokens import TokensFileError, parse_tokens_file, token_digest
from vrs.errors import ConfigurationError
from vrs.settings import StoreSettings
from vrs.store.qdrant_edge_store import QdrantEdgeStore
from vrs.v1 import embedder_pb2

STATS = embedder_pb2.GetEmbedderStatsRequest()


async def until_refused(port: int, token: str, limit_s: float = 10.0) -> grpc.aio.AioRpcError:
    """The refusal of `token`'s next calls, once the server has seen the file change."""
    deadline = time.monotonic() + limit_s
    async with client_of(port, token) as client:
        while True:
            try:
                await client.embedder.GetStats(STATS, timeout=5)
            except grpc.aio.AioRpcError as exc:
                return exc
            assert time.monotonic() < deadline, "the token still works after the file changed"
            await asyncio.sleep(RELOAD_S)


async def test_a_call_without_a_token_is_unauthenticated(
    tmp_path: Path, effnet: ImageEmbedder
) -> None:
    tokens_file = tmp_path / "tokens"
    write_tokens_file(tokens_file, {"ops": ["admin"]})
    async with (
        secured_vrs(tmp_path, effnet, tokens_file) as vrs,
        client_of(vrs.server.port, None) as anonymous,
    ):
        error = await status_of(anonymous.embedder.GetStats(STATS, timeout=5))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error.details() == "missing bearer token or client certificate"


async def test_an_unknown_token_is_unauthenticated_and_never_echoed(
    tmp_path: Path, effnet: ImageEmbedder
) -> None:
    tokens_file = tmp_path / "tokens"
    write_tokens_file(tokens_file, {"ops": ["admin"]})
    wrong = new_token()
    async with (
        secured_vrs(tmp_path, effnet, tokens_file) as vrs,
        client_of(vrs.server.port, wrong) as stranger,
    ):
        error = await status_of(stranger.embedder.GetStats(STATS, timeout=5))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error.details() == "unknown or revoked token"
    assert wrong not in str(error.details()) + str(error.debug_error_string())


async def test_a_token_that_is_not_a_bearer_token_is_unauthenticated(
    tmp_path: Path, effnet: ImageEmbedder
) -> None:
    tokens_file = tmp_path / "tokens"
    tokens = write_tokens_file(tokens_file, {"ops": ["admin"]})
    async with (
        secured_vrs(tmp_path, effnet, tokens_file) as vrs,
        client_of(vrs.server.port, None) as client,
    ):
        error = await status_of(
            client.embedder.GetStats(
                STATS, timeout=5, metadata=(("authorization", f"Basic {tokens['ops']}"),)
            )
        )
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error.details() == "the authorization metadata is not 'Bearer <token>'"


async def test_the_right_token_is_admitted(tmp_path: Path, effnet: ImageEmbedder) -> None:
    tokens_file = tmp_path / "tokens"
    tokens = write_tokens_file(tokens_file, {"ops": ["admin"]})
    async with (
        secured_vrs(tmp_path, effnet, tokens_file) as vrs,
        client_of(vrs.server.port, tokens["ops"]) as ops,
    ):
        stats = await ops.embedder.GetStats(STATS, timeout=5)
    assert stats.index.model_id == effnet.model_id


async def test_a_token_removed_from_the_file_is_refused_without_a_restart(
    tmp_path: Path, effnet: ImageEmbedder
) -> None:
    tokens_file = tmp_path / "tokens"
    tokens = write_tokens_file(tokens_file, {"ops": ["admin"], "old-ops": ["admin"]})
    async with secured_vrs(tmp_path, effnet, tokens_file) as vrs:
        async with client_of(vrs.server.port, tokens["old-ops"]) as old:
            await old.embedder.GetStats(STATS, timeout=5)
        write_tokens_file(tokens_file, {"ops": ["admin"]}, keep=tokens)
        error = await until_refused(vrs.server.port, tokens["old-ops"])
        async with client_of(vrs.server.port, tokens["ops"]) as ops:
            await ops.embedder.GetStats(STATS, timeout=5)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error.details() == "unknown or revoked token"


async def test_a_token_added_to_the_file_is_admitted_without_a_restart(
    tmp_path: Path, effnet: ImageEmbedder
) -> None:
    tokens_file = tmp_path / "tokens"
    write_tokens_file(tokens_file, {"ops": ["admin"]})
    async with secured_vrs(tmp_path, effnet, tokens_file) as vrs:
        tokens = write_tokens_file(tokens_file, {"ops": ["admin"], "new-ops": ["admin"]})
        deadline = time.monotonic() + 10
        async with client_of(vrs.server.port, tokens["new-ops"]) as new:
            while True:
                try:
                    stats = await new.embedder.GetStats(STATS, timeout=5)
                    break
                except grpc.aio.AioRpcError as exc:
                    assert exc.code() == grpc.StatusCode.UNAUTHENTICATED
                    assert time.monotonic() < deadline, "the new token is never admitted"
                    await asyncio.sleep(RELOAD_S)
    assert stats.index.model_id == effnet.model_id


async def test_a_broken_tokens_file_keeps_the_previous_callers_and_is_logged_without_secrets(
    tmp_path: Path, effnet: ImageEmbedder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="vrs.auth.registry")
    tokens_file = tmp_path / "tokens"
    tokens = write_tokens_file(tokens_file, {"ops": ["admin"]})
    pasted = new_token()
    async with (
        secured_vrs(tmp_path, effnet, tokens_file) as vrs,
        client_of(vrs.server.port, tokens["ops"]) as ops,
    ):
        # The classic mistake: the token itself where its hash belongs.
        replace_file(tokens_file, f"{tokens_file.read_text()}intruder  {pasted}  roles=admin\n")
        deadline = time.monotonic() + 10
        while "tokens file not reloaded" not in caplog.text:
            assert time.monotonic() < deadline, "the broken file is never noticed"
            await ops.embedder.GetStats(STATS, timeout=5)
            await asyncio.sleep(RELOAD_S)
        stats = await ops.embedder.GetStats(STATS, timeout=5)
    assert stats.index.model_id == effnet.model_id
    assert "line 3: a credential is sha256:" in caplog.text
    assert pasted not in caplog.text


async def test_a_kubernetes_secret_update_is_picked_up(
    tmp_path: Path, effnet: ImageEmbedder
) -> None:
    # A mounted Secret: tokens -> ..data/tokens, ..data -> a timestamped folder; an update
    # writes a new folder and swaps the ..data link (the file's own path never changes).
    mount = tmp_path / "secret"
    (mount / "v1").mkdir(parents=True)
    tokens = write_tokens_file(mount / "v1" / "tokens", {"ops": ["admin"], "old-ops": ["admin"]})
    (mount / "..data").symlink_to("v1")
    (mount / "tokens").symlink_to("..data/tokens")
    async with secured_vrs(tmp_path, effnet, mount / "tokens") as vrs:
        async with client_of(vrs.server.port, tokens["old-ops"]) as old:
            await old.embedder.GetStats(STATS, timeout=5)
        (mount / "v2").mkdir()
        write_tokens_file(mount / "v2" / "tokens", {"ops": ["admin"]}, keep=tokens)
        (mount / "..data_tmp").symlink_to("v2")
        (mount / "..data_tmp").replace(mount / "..data")
        error = await until_refused(vrs.server.port, tokens["old-ops"])
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_a_server_with_an_unreadable_tokens_file_refuses_to_start(
    tmp_path: Path, effnet: ImageEmbedder
) -> None:
    store = QdrantEdgeStore.open(
        StoreSettings(data_dir=tmp_path / "edge"), effnet.model_id, effnet.dimension
    )
    try:
        with pytest.raises(
            ConfigurationError, match=r"VRS_AUTH_TOKENS_FILE .*missing.*cannot read"
        ):
            async with running_vrs(
                tmp_path, effnet, store, auth={"tokens_file": tmp_path / "missing"}
            ):
                pass
    finally:
        store.close()


def test_a_token_pasted_instead_of_its_hash_is_refused_without_being_quoted() -> None:
    token = new_token()
    with pytest.raises(TokensFileError) as refused:
        parse_tokens_file(f"# callers\nops  {token}  roles=admin\n")
    assert str(refused.value).startswith("line 2: a credential is sha256:<hash of the token>")
    assert token not in str(refused.value)


def test_a_tokens_file_line_with_an_unknown_role_names_it() -> None:
    line = f"ops  sha256:{token_digest(new_token())}  roles=search,root"
    with pytest.raises(TokensFileError, match=r"line 1: unknown role 'root'"):
        parse_tokens_file(line)
