"""The audit log of a real vrs server: one `vrs.audit` line per write RPC with the caller's
name, the RPC, how many products it named and its outcome (refused and failed writes too),
none for reads, and never a token."""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.auth_env import client_of, secured_vrs, status_of, write_tokens_file
from tests.support.products import unit_vector, vector_upsert
from tests.support.search_env import running_vrs
from tests.support.serve_process import VRS, serve_env, serving
from vrs.auth.roles import Role
from vrs.limits import MAX_IDS_PER_CALL
from vrs.settings import StoreSettings
from vrs.store.qdrant_edge_store import QdrantEdgeStore
from vrs.v1 import embedder_pb2

CALLERS: dict[str, list[Role]] = {"shop-front": ["search"], "catalog-sync": ["ingest"]}


@pytest.fixture
def audit(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="vrs.audit")
    return caplog


def audit_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [
        {key: getattr(r, key) for key in ("caller", "rpc", "products", "outcome")}
        for r in caplog.records
        if r.name == "vrs.audit"
    ]


def upserts(effnet: ImageEmbedder, *ids: str) -> embedder_pb2.UpsertProductsRequest:
    return embedder_pb2.UpsertProductsRequest(
        items=[
            vector_upsert(pid, unit_vector(effnet.dimension, n), effnet.model_id, price=9.5)
            for n, pid in enumerate(ids)
        ]
    )


async def test_a_delete_is_audited_with_caller_rpc_count_and_outcome(
    tmp_path: Path, effnet: ImageEmbedder, audit: pytest.LogCaptureFixture
) -> None:
    tokens = write_tokens_file(tmp_path / "tokens", CALLERS)
    async with (
        secured_vrs(tmp_path, effnet, tmp_path / "tokens") as vrs,
        client_of(vrs.server.port, tokens["catalog-sync"]) as sync,
    ):
        delete = embedder_pb2.DeleteProductsRequest(product_ids=["a-1", "a-2"])
        await sync.embedder.DeleteProducts(delete, timeout=5)
    assert audit_lines(audit) == [
        {
            "caller": "catalog-sync",
            "rpc": "/vrs.v1.EmbedderService/DeleteProducts",
            "products": 2,
            "outcome": "OK",
        }
    ]
    [record] = [r for r in audit.records if r.name == "vrs.audit"]
    assert record.levelno == logging.INFO
    assert record.getMessage() == (
        "caller=catalog-sync rpc=/vrs.v1.EmbedderService/DeleteProducts products=2 outcome=OK"
    )


async def test_a_stream_upsert_is_audited_with_every_product_that_arrived(
    tmp_path: Path, effnet: ImageEmbedder, audit: pytest.LogCaptureFixture
) -> None:
    tokens = write_tokens_file(tmp_path / "tokens", CALLERS)
    batches = [upserts(effnet, "s-1", "s-2"), upserts(effnet, "s-3", "s-4", "s-5")]
    async with (
        secured_vrs(tmp_path, effnet, tmp_path / "tokens") as vrs,
        client_of(vrs.server.port, tokens["catalog-sync"]) as sync,
    ):
        summary = await sync.embedder.StreamUpsertProducts(iter(batches), timeout=30)
    assert summary.upserted == 5
    assert audit_lines(audit) == [
        {
            "caller": "catalog-sync",
            "rpc": "/vrs.v1.EmbedderService/StreamUpsertProducts",
            "products": 5,
            "outcome": "OK",
        }
    ]


async def test_a_write_refused_for_its_role_is_audited_with_the_caller(
    tmp_path: Path, effnet: ImageEmbedder, audit: pytest.LogCaptureFixture
) -> None:
    tokens = write_tokens_file(tmp_path / "tokens", CALLERS)
    async with (
        secured_vrs(tmp_path, effnet, tmp_path / "tokens") as vrs,
        client_of(vrs.server.port, tokens["shop-front"]) as shop,
    ):
        await status_of(shop.embedder.UpsertProducts(upserts(effnet, "x-1", "x-2", "x-3")))
    assert audit_lines(audit) == [
        {
            "caller": "shop-front",
            "rpc": "/vrs.v1.EmbedderService/UpsertProducts",
            "products": 3,
            "outcome": "PERMISSION_DENIED",
        }
    ]


async def test_a_write_without_credentials_is_audited_as_unauthenticated(
    tmp_path: Path, effnet: ImageEmbedder, audit: pytest.LogCaptureFixture
) -> None:
    write_tokens_file(tmp_path / "tokens", CALLERS)
    async with (
        secured_vrs(tmp_path, effnet, tmp_path / "tokens") as vrs,
        client_of(vrs.server.port, None) as anonymous,
    ):
        delete = embedder_pb2.DeleteProductsRequest(product_ids=["a-1"])
        await status_of(anonymous.embedder.DeleteProducts(delete, timeout=5))
    assert audit_lines(audit) == [
        {
            "caller": "(unauthenticated)",
            "rpc": "/vrs.v1.EmbedderService/DeleteProducts",
            "products": 1,
            "outcome": "UNAUTHENTICATED",
        }
    ]


async def test_a_failed_write_is_audited_with_its_status(
    tmp_path: Path, effnet: ImageEmbedder, audit: pytest.LogCaptureFixture
) -> None:
    tokens = write_tokens_file(tmp_path / "tokens", CALLERS)
    too_many = [f"id-{n}" for n in range(MAX_IDS_PER_CALL + 1)]
    async with (
        secured_vrs(tmp_path, effnet, tmp_path / "tokens") as vrs,
        client_of(vrs.server.port, tokens["catalog-sync"]) as sync,
    ):
        delete = embedder_pb2.DeleteProductsRequest(product_ids=too_many)
        error = await status_of(sync.embedder.DeleteProducts(delete, timeout=5))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert audit_lines(audit) == [
        {
            "caller": "catalog-sync",
            "rpc": "/vrs.v1.EmbedderService/DeleteProducts",
            "products": MAX_IDS_PER_CALL + 1,
            "outcome": "INVALID_ARGUMENT",
        }
    ]


async def test_reads_are_not_audited(
    tmp_path: Path, effnet: ImageEmbedder, audit: pytest.LogCaptureFixture
) -> None:
    tokens = write_tokens_file(tmp_path / "tokens", {"ops": ["admin", "search"]})
    async with (
        secured_vrs(tmp_path, effnet, tmp_path / "tokens") as vrs,
        client_of(vrs.server.port, tokens["ops"]) as ops,
    ):
        await ops.embedder.GetStats(embedder_pb2.GetEmbedderStatsRequest(), timeout=5)
        await ops.embedder.GetProducts(embedder_pb2.GetProductsRequest(product_ids=["a"]))
    assert audit_lines(audit) == []


async def test_without_auth_writes_are_audited_as_anonymous(
    tmp_path: Path, effnet: ImageEmbedder, audit: pytest.LogCaptureFixture
) -> None:
    store = QdrantEdgeStore.open(
        StoreSettings(data_dir=tmp_path / "edge"), effnet.model_id, effnet.dimension
    )
    try:
        async with running_vrs(tmp_path, effnet, store) as vrs:
            update = embedder_pb2.UpdateProductsRequest(
                patches=[embedder_pb2.ProductPatch(product_id="u-1", price=3.0)]
            )
            await vrs.embedder.UpdateProducts(update, timeout=5)
    finally:
        store.close()
    assert audit_lines(audit) == [
        {
            "caller": "anonymous",
            "rpc": "/vrs.v1.EmbedderService/UpdateProducts",
            "products": 1,
            "outcome": "OK",
        }
    ]


def _all_text(records: Iterator[logging.LogRecord]) -> str:
    return "\n".join(f"{r.getMessage()} {vars(r)}" for r in records)


async def test_no_log_record_of_a_run_holds_a_token(
    tmp_path: Path, effnet: ImageEmbedder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tokens = write_tokens_file(tmp_path / "tokens", CALLERS)
    wrong = "vrs_" + "w" * 43
    async with secured_vrs(tmp_path, effnet, tmp_path / "tokens") as vrs:
        for token in (tokens["catalog-sync"], tokens["shop-front"], wrong):
            async with client_of(vrs.server.port, token) as client:
                delete = embedder_pb2.DeleteProductsRequest(product_ids=["a-1"])
                try:
                    await client.embedder.DeleteProducts(delete, timeout=5)
                except grpc.aio.AioRpcError as exc:
                    assert token not in str(exc.details())
    text = _all_text(iter(caplog.records))
    assert "catalog-sync" in text  # the run was logged
    for token in (*tokens.values(), wrong):
        assert token not in text


@pytest.mark.slow
def test_a_served_process_logs_its_writes_and_never_a_token(tmp_path: Path) -> None:
    tokens = write_tokens_file(tmp_path / "tokens", {**CALLERS, "ops": ["admin"]})
    wrong = "vrs_" + "w" * 43
    env = serve_env(
        tmp_path,
        VRS_AUTH_TOKENS_FILE=str(tmp_path / "tokens"),
        VRS_AUTH_RELOAD_S="0.1",
        VRS_LOG_LEVEL="DEBUG",
    )
    outputs: list[str] = []
    with serving(env, tmp_path / "serve.log") as address:
        for token, command in (
            (tokens["catalog-sync"], ["delete", "a-1", "a-2"]),
            (tokens["shop-front"], ["delete", "a-1"]),
            (tokens["ops"], ["stats"]),
            (wrong, ["stats"]),
        ):
            # The token by environment, as a Kubernetes Secret hands it over.
            done = subprocess.run(
                [str(VRS), "--address", address, *command],
                env={**env, "VRS_CLIENT_TOKEN": token},
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            outputs += [done.stdout, done.stderr]
    logs = (tmp_path / "serve.log").read_text()
    audited = [json.loads(line) for line in logs.splitlines() if '"logger": "vrs.audit"' in line]
    assert [(a["caller"], a["products"], a["outcome"]) for a in audited] == [
        ("catalog-sync", 2, "OK"),
        ("shop-front", 1, "PERMISSION_DENIED"),
    ]
    assert "unknown or revoked token" in "".join(outputs)
    for token in (*tokens.values(), wrong):
        assert token not in logs
        assert token not in "".join(outputs)
