"""A split deployment over mutual TLS: the search service reaches the embedder with its
client certificate (VRS_CLIENT_*), and without one it cannot."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from services.composition import create_server
from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.factories import settings_for
from tests.support.images import product_jpeg
from tests.support.servers import embedder_server
from tests.support.tls_env import CLIENT_NAME, Pki, client_tls, make_pki, server_tls
from vrs.store.async_store import AsyncStore
from vrs.store.base import VectorStore
from vrs.v1 import common_pb2, embedder_pb2, search_pb2, search_pb2_grpc


def embedder_sections(pki: Pki, tmp_path: Path) -> dict[str, dict[str, object]]:
    """An embedder with mutual TLS whose tokens file maps the search's certificate to the
    roles search -> embedder calls need (Embed: ingest, GetStats for the model id: admin)."""
    tokens_file = tmp_path / "tokens"
    tokens_file.write_text(f"search-svc subject:CN={CLIENT_NAME} roles=ingest,admin\n")
    return {"server": server_tls(pki, mutual=True), "auth": {"tokens_file": tokens_file}}


async def test_search_embeds_through_an_embedder_over_mutual_tls(
    tmp_path: Path, effnet: ImageEmbedder, memory_store: VectorStore
) -> None:
    pki = make_pki(tmp_path)
    mtls = client_tls(pki.ca, pki.client)
    sections = embedder_sections(pki, tmp_path)
    async with embedder_server(tmp_path, effnet, memory_store, client=mtls, **sections) as emb:
        await emb.stub.UpsertProducts(
            embedder_pb2.UpsertProductsRequest(
                items=[
                    embedder_pb2.ProductUpsert(
                        product=common_pb2.ProductAttributes(product_id=f"s{i}"),
                        image=common_pb2.ImageSource(data=product_jpeg(seed=i)),
                    )
                    for i in range(3)
                ]
            )
        )
        settings = settings_for(
            tmp_path,
            search={"embedder_address": f"127.0.0.1:{emb.port}"},
            client=mtls.model_dump(),
        )
        server, port = await create_server(settings, "search", store=AsyncStore(memory_store, 10.0))
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                response = await search_pb2_grpc.SearchServiceStub(channel).SearchByImage(
                    search_pb2.SearchByImageRequest(
                        image=common_pb2.ImageSource(data=product_jpeg(seed=1)), k=3
                    ),
                    timeout=30,
                )
        finally:
            await server.stop(1)
    assert response.matches[0].product_id == "s1"
    assert response.model_id == effnet.model_id


async def test_search_without_a_client_certificate_cannot_reach_a_mutual_tls_embedder(
    tmp_path: Path, effnet: ImageEmbedder, memory_store: VectorStore
) -> None:
    pki = make_pki(tmp_path)
    sections = embedder_sections(pki, tmp_path)
    mtls = client_tls(pki.ca, pki.client)
    async with embedder_server(tmp_path, effnet, memory_store, client=mtls, **sections) as emb:
        settings = settings_for(
            tmp_path,
            search={"embedder_address": f"127.0.0.1:{emb.port}", "embedder_timeout_s": 3},
            client={"tls_ca_file": pki.ca.cert_file},
        )
        server, port = await create_server(settings, "search", store=AsyncStore(memory_store, 10.0))
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await search_pb2_grpc.SearchServiceStub(channel).SearchByImage(
                        search_pb2.SearchByImageRequest(
                            image=common_pb2.ImageSource(data=product_jpeg(seed=1)), k=3
                        ),
                        timeout=30,
                    )
        finally:
            await server.stop(1)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "embedder" in (refused.value.details() or "")
