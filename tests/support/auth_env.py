"""Callers for auth tests: real tokens in a real tokens file, a vrs server that enforces it,
and clients that present a token the way every vrs client does (VRS_CLIENT_TOKEN)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc

from services.cli.token import new_token
from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.search_env import Vrs, running_vrs
from vrs.auth.tokens import token_line
from vrs.rpc.client import open_channel
from vrs.settings import ClientSettings, StoreSettings
from vrs.store.qdrant_edge_store import QdrantEdgeStore
from vrs.v1 import embedder_pb2_grpc, search_pb2_grpc

if TYPE_CHECKING:
    from vrs.auth.roles import Role
    from vrs.v1.embedder_pb2_grpc import EmbedderServiceAsyncStub
    from vrs.v1.search_pb2_grpc import SearchServiceAsyncStub

# Checked this often in tests, so a rewrite is seen at once (production: 5 s).
RELOAD_S = 0.05


def write_tokens_file(
    path: Path,
    callers: Mapping[str, Iterable[Role]],
    extra_lines: Iterable[str] = (),
    keep: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A tokens file admitting each caller, with its token in `keep` or a new one;
    {name: token}.

    Written to a new file then renamed over the old one, as an operator's tools do: a reader
    never sees half a file.
    """
    keep = keep or {}
    tokens = {name: keep.get(name) or new_token() for name in callers}
    lines = ["# callers of a test server", *extra_lines]
    lines += [token_line(name, tokens[name], roles) for name, roles in callers.items()]
    replace_file(path, "\n".join(lines) + "\n")
    return tokens


def replace_file(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".new")
    tmp.write_text(text)
    tmp.replace(path)


def auth_section(tokens_file: Path) -> dict[str, Any]:
    return {"tokens_file": tokens_file, "reload_s": RELOAD_S}


def as_caller(token: str | None) -> ClientSettings:
    """Client settings of a caller presenting `token` (None: no credentials at all)."""
    return ClientSettings.model_validate({} if token is None else {"token": token})


class Client:
    """Stubs of both services over a channel made by vrs's own client factory."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.channel = channel
        self.embedder: EmbedderServiceAsyncStub = embedder_pb2_grpc.EmbedderServiceStub(channel)
        self.search: SearchServiceAsyncStub = search_pb2_grpc.SearchServiceStub(channel)


@asynccontextmanager
async def client_of(
    port: int, token: str | None, settings: ClientSettings | None = None
) -> AsyncIterator[Client]:
    client_settings = settings if settings is not None else as_caller(token)
    channel = open_channel(f"127.0.0.1:{port}", client_settings, aio=True)
    try:
        yield Client(channel)
    finally:
        await channel.close(None)


@asynccontextmanager
async def secured_vrs(
    tmp_path: Path, embedder: ImageEmbedder, tokens_file: Path, **sections: dict[str, Any]
) -> AsyncIterator[Vrs]:
    """Embedder and search on one loopback port, admitting the callers of `tokens_file`."""
    store = QdrantEdgeStore.open(
        StoreSettings(data_dir=tmp_path / "edge"), embedder.model_id, embedder.dimension
    )
    try:
        async with running_vrs(
            tmp_path, embedder, store, auth=auth_section(tokens_file), **sections
        ) as vrs:
            yield vrs
    finally:
        store.close()


async def status_of(call: Any) -> grpc.aio.AioRpcError:
    """The error a call must fail with."""
    try:
        await call
    except grpc.aio.AioRpcError as exc:
        return exc
    raise AssertionError("the call succeeded where it must be refused")
