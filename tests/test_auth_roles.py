"""Roles against a real vrs server: each RPC needs its role (search, ingest, admin), a caller
without it is PERMISSION_DENIED with a message naming caller, role and RPC; health stays open,
reflection needs a caller, and a client certificate's subject stands for a caller (mTLS)."""

from __future__ import annotations

from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.auth_env import Client, client_of, secured_vrs, status_of, write_tokens_file
from tests.support.tls_env import client_tls, make_pki, server_tls
from vrs.auth.roles import Access, Role, required_access
from vrs.v1 import embedder_pb2, search_pb2

DELETE = embedder_pb2.DeleteProductsRequest(product_ids=["shirt-001"])
BY_PRODUCT = search_pb2.SearchByProductRequest(product_id="shirt-001")
CALLERS: dict[str, list[Role]] = {
    "shop-front": ["search"],
    "catalog-sync": ["ingest"],
    "ops": ["admin"],
}


async def list_services(client: Client) -> list[str]:
    stub = reflection_pb2_grpc.ServerReflectionStub(client.channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    answers = [answer async for answer in stub.ServerReflectionInfo(iter([request]), timeout=5)]
    return [s.name for s in answers[0].list_services_response.service]


async def test_a_search_caller_cannot_delete_products(
    tmp_path: Path, effnet: ImageEmbedder
) -> None:
    tokens = write_tokens_file(tmp_path / "tokens", CALLERS)
    async with (
        secured_vrs(tmp_path, effnet, tmp_path / "tokens") as vrs,
        client_of(vrs.server.port, tokens["shop-front"]) as shop,
    ):
        error = await status_of(shop.embedder.DeleteProducts(DELETE, timeout=5))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error.details() == (
        "caller 'shop-front' lacks role 'ingest' for /vrs.v1.EmbedderService/DeleteProducts"
    )


async def test_an_ingest_caller_can_delete_products(tmp_path: Path, effnet: ImageEmbedder) -> None:
    tokens = write_tokens_file(tmp_path / "tokens", CALLERS)
    async with (
        secured_vrs(tmp_path, effnet, tmp_path / "tokens") as vrs,
        client_of(vrs.server.port, tokens["catalog-sync"]) as sync,
    ):
        response = await sync.embedder.DeleteProducts(DELETE, timeout=5)
    assert list(response.not_found) == ["shirt-001"]


async def test_a_search_caller_can_search(tmp_path: Path, effnet: ImageEmbedder) -> None:
    tokens = write_tokens_file(tmp_path / "tokens", CALLERS)
    async with (
        secured_vrs(tmp_path, effnet, tmp_path / "tokens") as vrs,
        client_of(vrs.server.port, tokens["shop-front"]) as shop,
    ):
        # Admitted: the answer is the search's own (no such product), not a refusal.
        error = await status_of(shop.search.SearchByProduct(BY_PRODUCT, timeout=5))
    assert error.code() == grpc.StatusCode.NOT_FOUND


async def test_an_ingest_caller_cannot_search(tmp_path: Path, effnet: ImageEmbedder) -> None:
    tokens = write_tokens_file(tmp_path / "tokens", CALLERS)
    async with (
        secured_vrs(tmp_path, effnet, tmp_path / "tokens") as vrs,
        client_of(vrs.server.port, tokens["catalog-sync"]) as sync,
    ):
        error = await status_of(sync.search.SearchByProduct(BY_PRODUCT, timeout=5))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error.details() == (
        "caller 'catalog-sync' lacks role 'search' for /vrs.v1.SearchService/SearchByProduct"
    )


async def test_stats_need_the_admin_role(tmp_path: Path, effnet: ImageEmbedder) -> None:
    tokens = write_tokens_file(tmp_path / "tokens", CALLERS)
    async with (
        secured_vrs(tmp_path, effnet, tmp_path / "tokens") as vrs,
        client_of(vrs.server.port, tokens["shop-front"]) as shop,
        client_of(vrs.server.port, tokens["ops"]) as ops,
    ):
        refused = await status_of(shop.search.GetStats(search_pb2.GetSearchStatsRequest()))
        stats = await ops.search.GetStats(search_pb2.GetSearchStatsRequest(), timeout=5)
    assert refused.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "lacks role 'admin' for /vrs.v1.SearchService/GetStats" in str(refused.details())
    assert stats.model_id == effnet.model_id


async def test_health_stays_open_without_credentials(tmp_path: Path, effnet: ImageEmbedder) -> None:
    write_tokens_file(tmp_path / "tokens", CALLERS)
    async with (
        secured_vrs(tmp_path, effnet, tmp_path / "tokens") as vrs,
        client_of(vrs.server.port, None) as anonymous,
    ):
        answer = await health_pb2_grpc.HealthStub(anonymous.channel).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


async def test_reflection_is_refused_without_a_caller(
    tmp_path: Path, effnet: ImageEmbedder
) -> None:
    write_tokens_file(tmp_path / "tokens", CALLERS)
    async with (
        secured_vrs(tmp_path, effnet, tmp_path / "tokens", server={"reflection": True}) as vrs,
        client_of(vrs.server.port, None) as anonymous,
    ):
        error = await status_of(list_services(anonymous))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_reflection_serves_any_authenticated_caller(
    tmp_path: Path, effnet: ImageEmbedder
) -> None:
    tokens = write_tokens_file(tmp_path / "tokens", CALLERS)
    async with (
        secured_vrs(tmp_path, effnet, tmp_path / "tokens", server={"reflection": True}) as vrs,
        client_of(vrs.server.port, tokens["shop-front"]) as shop,
    ):
        services = await list_services(shop)
    assert "vrs.v1.SearchService" in services


async def test_a_client_certificate_subject_stands_for_a_caller(
    tmp_path: Path, effnet: ImageEmbedder
) -> None:
    pki = make_pki(tmp_path / "pki")  # its client certificate: CN=search-svc
    write_tokens_file(
        tmp_path / "tokens", {}, extra_lines=["search-svc  subject:CN=search-svc  roles=search"]
    )
    async with (
        secured_vrs(
            tmp_path, effnet, tmp_path / "tokens", server=server_tls(pki, mutual=True)
        ) as vrs,
        client_of(vrs.server.port, None, client_tls(pki.ca, pki.client)) as search_svc,
    ):
        searched = await status_of(search_svc.search.SearchByProduct(BY_PRODUCT, timeout=5))
        denied = await status_of(search_svc.embedder.DeleteProducts(DELETE, timeout=5))
    assert searched.code() == grpc.StatusCode.NOT_FOUND
    assert denied.code() == grpc.StatusCode.PERMISSION_DENIED
    assert str(denied.details()).startswith("caller 'search-svc' lacks role 'ingest'")


async def test_a_client_certificate_the_tokens_file_does_not_map_has_no_role(
    tmp_path: Path, effnet: ImageEmbedder
) -> None:
    pki = make_pki(tmp_path / "pki")
    stranger = pki.ca.issue_client("batch-job")
    write_tokens_file(
        tmp_path / "tokens", {}, extra_lines=["search-svc  subject:CN=search-svc  roles=search"]
    )
    async with (
        secured_vrs(
            tmp_path, effnet, tmp_path / "tokens", server=server_tls(pki, mutual=True)
        ) as vrs,
        client_of(vrs.server.port, None, client_tls(pki.ca, stranger)) as job,
    ):
        error = await status_of(job.search.SearchByProduct(BY_PRODUCT, timeout=5))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert str(error.details()).startswith("caller 'CN=batch-job' lacks role 'search'")


def test_an_rpc_the_role_table_does_not_know_needs_admin() -> None:
    assert required_access("/vrs.v1.EmbedderService/SomethingNew") == "admin"
    assert required_access("/vrs.v1.SearchService/SomethingNew") == "admin"
    assert required_access("/grpc.health.v1.Health/Watch") is Access.OPEN
