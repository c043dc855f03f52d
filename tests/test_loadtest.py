"""`make loadtest`'s load generator against a real `vrs serve` (subprocess, random weights,
real Redis for the cache): every RPC kind is sent and answered without errors, the products it
upserted are removed afterwards, and a target off this machine is refused before any traffic."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest

from benchmarks.load_mix import KINDS, Workload, kinds_seen
from benchmarks.load_report import level_table
from benchmarks.loadtest import NotLoopback, index, main, require_loopback, run_load
from services.cli.catalog_files import read_catalog
from tests.support.redis_server import RedisServer
from tests.support.serve_process import serve_env, serving
from vrs.catalog.sample import generate
from vrs.v1 import embedder_pb2, embedder_pb2_grpc

pytestmark = pytest.mark.slow


def test_the_load_reaches_every_rpc_kind_without_errors(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    catalog = generate(tmp_path / "catalog", per_category=2)
    env = serve_env(tmp_path, VRS_REDIS_URL=redis_server.url)
    with serving(env, tmp_path / "serve.log") as address:
        index(address, catalog)
        workload = Workload.from_catalog(read_catalog(catalog))
        [level] = asyncio.run(
            run_load(address, address, workload, [2], requests=20, time_limit_s=120)
        )
        assert kinds_seen(level) == {
            "SearchByProduct cached": 7,
            "SearchByProduct uncached": 4,
            "SearchByImage cached": 4,
            "SearchByImage uncached": 4,
            "UpsertProducts": 1,
        }
        assert level.errors == 0, level_table(level)
        assert len(workload.created) == 1
        with grpc.insecure_channel(address) as channel:
            left = embedder_pb2_grpc.EmbedderServiceStub(channel).GetProducts(
                embedder_pb2.GetProductsRequest(product_ids=workload.created), timeout=10
            )
    assert list(left.not_found) == workload.created, "the upserted products are deleted"
    assert all(kind in level_table(level) for kind in KINDS)


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.7:50051",
        "search.example.com:443",
        "dns:///vrs-search.vrs.svc.cluster.local:50051",
        "ipv4:127.0.0.1:50051,192.0.2.1:50051",
        "[2001:db8::1]:50051",
    ],
)
def test_a_target_off_this_machine_is_refused(address: str) -> None:
    with pytest.raises(NotLoopback, match="only loopback"):
        require_loopback(address)


def test_loopback_targets_are_accepted() -> None:
    for address in (
        "127.0.0.1:50051",
        "localhost:1",
        "[::1]:50051",
        "ipv4:127.0.0.1:1,127.0.0.2:2",
    ):
        require_loopback(address)


def test_the_command_refuses_a_remote_address_before_sending_anything(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--address", "192.0.2.10:50051", "--requests", "1"]) == 2
    assert "only loopback" in capsys.readouterr().err
