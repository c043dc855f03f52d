"""`vrs token create` and the CLI's token: a new token and its tokens-file line that a real
server then accepts (round trip), sent from --token or VRS_CLIENT_TOKEN; refusals are one
line naming what is missing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from services.cli.main import main
from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.auth_env import secured_vrs, write_tokens_file


def create_token(capsys: pytest.CaptureFixture[str], name: str, roles: str) -> tuple[str, str]:
    """(token, tokens-file line) as `vrs token create` prints them."""
    assert main(["token", "create", name, "--roles", roles]) == 0
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    return lines[1], lines[3]


async def cli(*args: str) -> int:
    """The CLI in a thread: its blocking gRPC calls must not stall the server's loop."""
    return await asyncio.to_thread(main, list(args))


async def test_a_created_token_is_accepted_by_a_server_given_its_line(
    tmp_path: Path, effnet: ImageEmbedder, capsys: pytest.CaptureFixture[str]
) -> None:
    token, line = create_token(capsys, "ops", "admin")
    (tmp_path / "tokens").write_text(f"# operators\n{line}\n")
    async with secured_vrs(tmp_path, effnet, tmp_path / "tokens") as vrs:
        code = await cli("--address", f"127.0.0.1:{vrs.server.port}", "--token", token, "stats")
    out = capsys.readouterr()
    assert code == 0, out.err
    assert effnet.model_id in out.out


def test_token_create_prints_a_new_token_and_only_its_hash_in_the_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    first, line = create_token(capsys, "catalog-sync", "ingest,search")
    second, _ = create_token(capsys, "catalog-sync", "ingest,search")
    assert first.startswith("vrs_") and len(first) > 40
    assert first != second
    assert line.startswith("catalog-sync  sha256:")
    assert line.endswith("  roles=ingest,search")
    assert first not in line


def test_token_create_refuses_an_unknown_role(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "create", "ops", "--roles", "admin,root"]) == 1
    out = capsys.readouterr()
    assert out.err.strip() == "vrs token: unknown role 'root' (roles: search, ingest, admin)"
    assert out.out == ""


async def test_the_cli_sends_the_token_from_vrs_client_token(
    tmp_path: Path,
    effnet: ImageEmbedder,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tokens = write_tokens_file(tmp_path / "tokens", {"catalog-sync": ["ingest"]})
    monkeypatch.setenv("VRS_CLIENT_TOKEN", tokens["catalog-sync"])
    async with secured_vrs(tmp_path, effnet, tmp_path / "tokens") as vrs:
        code = await cli("--address", f"127.0.0.1:{vrs.server.port}", "delete", "gone-1")
    out = capsys.readouterr()
    assert code == 0, out.err
    assert out.out.strip() == "deleted 0; not in the catalog: gone-1"


async def test_the_cli_without_a_token_says_what_is_missing(
    tmp_path: Path,
    effnet: ImageEmbedder,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("VRS_CLIENT_TOKEN", raising=False)
    write_tokens_file(tmp_path / "tokens", {"ops": ["admin"]})
    async with secured_vrs(tmp_path, effnet, tmp_path / "tokens") as vrs:
        code = await cli("--address", f"127.0.0.1:{vrs.server.port}", "stats")
    assert code == 1
    assert capsys.readouterr().err.strip() == (
        "vrs stats: unauthenticated: missing bearer token or client certificate"
    )


async def test_the_cli_with_a_token_lacking_the_role_names_it(
    tmp_path: Path, effnet: ImageEmbedder, capsys: pytest.CaptureFixture[str]
) -> None:
    tokens = write_tokens_file(tmp_path / "tokens", {"shop-front": ["search"]})
    async with secured_vrs(tmp_path, effnet, tmp_path / "tokens") as vrs:
        code = await cli(
            "--address",
            f"127.0.0.1:{vrs.server.port}",
            "--token",
            tokens["shop-front"],
            "delete",
            "shirt-001",
        )
    err = capsys.readouterr().err
    assert code == 1
    assert err.strip() == (
        "vrs delete: permission denied: caller 'shop-front' lacks role 'ingest' for "
        "/vrs.v1.EmbedderService/DeleteProducts"
    )
    assert tokens["shop-front"] not in err
