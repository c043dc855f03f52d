"""The embedder over real gRPC: Embed, UpsertProducts (unary and streaming), UpdateProducts,
DeleteProducts, bad input, health and graceful shutdown."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import numpy as np
import pytest
import pytest_asyncio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.embedder.embedding.embedder import ImageEmbedder
from services.embedder.runtimes.engine import InferenceEngine
from tests.support.factories import make_embedder
from tests.support.images import decompression_bomb, every_mode, product_jpeg
from tests.support.servers import RunningEmbedder, embedder_server
from tests.support.stores import StoreFactory
from vrs.settings import ImageSettings
from vrs.v1 import common_pb2, embedder_pb2

OUT = embedder_pb2


@pytest_asyncio.fixture
async def image_root(tmp_path: Path) -> Path:
    root = tmp_path / "images"
    root.mkdir()
    (root / "shirt.jpg").write_bytes(product_jpeg("shirt", 11))
    (tmp_path / "outside.jpg").write_bytes(product_jpeg("shoes", 12))
    return root


@pytest.fixture
def image_settings(image_root: Path) -> ImageSettings:
    return ImageSettings(file_root=image_root, max_bytes=300_000)


@pytest_asyncio.fixture
async def svc(
    tmp_path: Path, embedder: ImageEmbedder, store_factory: StoreFactory
) -> AsyncIterator[RunningEmbedder]:
    store = store_factory(embedder.model_id, embedder.dimension)
    async with embedder_server(tmp_path, embedder, store) as running:
        yield running


def img(data: bytes = b"", uri: str | None = None) -> common_pb2.ImageSource:
    return common_pb2.ImageSource(uri=uri) if uri is not None else common_pb2.ImageSource(data=data)


def item(
    pid: str,
    image: common_pb2.ImageSource | None = None,
    price: float | None = 10.0,
    vector: common_pb2.Embedding | None = None,
    **attrs: object,
) -> OUT.ProductUpsert:
    product = common_pb2.ProductAttributes(product_id=pid, **attrs)  # type: ignore[arg-type]
    if price is not None:
        product.price = price
    if vector is not None:
        return OUT.ProductUpsert(product=product, vector=vector)
    return OUT.ProductUpsert(
        product=product, image=image or img(product_jpeg("shirt", hash(pid) % 97))
    )


async def upsert(svc: RunningEmbedder, *items: OUT.ProductUpsert) -> list[OUT.UpsertResult]:
    response = await svc.stub.UpsertProducts(OUT.UpsertProductsRequest(items=items))
    return list(response.results)


async def points(svc: RunningEmbedder) -> int:
    return int((await svc.stub.GetStats(OUT.GetEmbedderStatsRequest())).index.points)


async def test_embed_bytes_and_uri(svc: RunningEmbedder, image_root: Path) -> None:
    response = await svc.stub.Embed(
        OUT.EmbedRequest(
            images=[img(product_jpeg("shirt", 11)), img(uri=(image_root / "shirt.jpg").as_uri())]
        )
    )
    assert response.dimension == 1280
    assert response.model_id.startswith("efficientnet_lite0+gem2-crop0.8-cblur3@")
    a, b = (np.array(r.embedding.values) for r in response.results)
    assert a.shape == (1280,)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert response.results[0].image_sha256 == response.results[1].image_sha256
    assert response.results[0].embedding.model_id == response.model_id


async def test_embed_one_bad_image_fails_alone(svc: RunningEmbedder) -> None:
    response = await svc.stub.Embed(
        OUT.EmbedRequest(images=[img(b"garbage"), img(product_jpeg()), img(b"")])
    )
    kinds = [r.WhichOneof("result") for r in response.results]
    assert kinds == ["error", "embedding", "error"]
    assert response.results[0].error.code == common_pb2.INVALID_ARGUMENT
    assert "not an image" in response.results[0].error.message
    assert "empty" in response.results[2].error.message


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        (img(b"not an image"), "not an image"),
        (img(b""), "empty"),
        (img(b"\xff" * 300_001), "above the limit of 300000"),
        (img(decompression_bomb()), "decompression bomb"),
        (img(uri="ftp://example.com/x.jpg"), "scheme 'ftp' is not allowed"),
        (img(uri="file:///etc/hostname"), "outside the allowed image root"),
        (common_pb2.ImageSource(), "image is missing"),
    ],
    ids=["corrupt", "empty", "too-large", "bomb", "scheme", "outside-root", "missing"],
)
async def test_embed_bad_input_is_invalid_argument(
    svc: RunningEmbedder, source: common_pb2.ImageSource, reason: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await svc.stub.Embed(OUT.EmbedRequest(images=[source]))
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason in (failure.value.details() or "")


async def test_embed_needs_images(svc: RunningEmbedder) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await svc.stub.Embed(OUT.EmbedRequest())
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_every_image_mode_embeds(svc: RunningEmbedder) -> None:
    modes = every_mode()
    response = await svc.stub.Embed(OUT.EmbedRequest(images=[img(d) for d in modes.values()]))
    assert [r.WhichOneof("result") for r in response.results] == ["embedding"] * len(modes)


async def test_upsert_is_idempotent_and_skips_the_model(
    svc: RunningEmbedder, effnet_engine: InferenceEngine
) -> None:
    first = await upsert(svc, item("a", title="A"), item("b", title="B"))
    assert [r.outcome for r in first] == [OUT.UPSERT_OUTCOME_UPSERTED] * 2
    passes = effnet_engine.images_embedded
    again = await upsert(svc, item("a", title="A"), item("b", title="B"))
    assert [r.outcome for r in again] == [OUT.UPSERT_OUTCOME_UNCHANGED] * 2
    assert effnet_engine.images_embedded == passes, "unchanged images are not re-embedded"
    priced = await upsert(svc, item("a", title="A", price=5.0))
    assert priced[0].outcome == OUT.UPSERT_OUTCOME_UPDATED
    assert effnet_engine.images_embedded == passes, "an attribute change does not run the model"
    new_photo = await upsert(svc, item("a", image=img(product_jpeg("hat", 3)), title="A"))
    assert new_photo[0].outcome == OUT.UPSERT_OUTCOME_UPSERTED
    assert effnet_engine.images_embedded == passes + 1
    assert await points(svc) == 2


async def test_upsert_precomputed_vectors(svc: RunningEmbedder, embedder: ImageEmbedder) -> None:
    vec = common_pb2.Embedding(values=[0.5] * 1280, model_id=embedder.model_id)
    results = await upsert(svc, item("v1", vector=vec))
    assert [r.outcome for r in results] == [OUT.UPSERT_OUTCOME_UPSERTED]
    again = await upsert(svc, item("v1", vector=vec))
    assert again[0].outcome == OUT.UPSERT_OUTCOME_UNCHANGED
    other = common_pb2.Embedding(values=[0.5] * 1280, model_id="inception_v3@0cc3c7bd")
    mismatch = await upsert(svc, item("v3", vector=other))
    assert mismatch[0].error.code == common_pb2.FAILED_PRECONDITION
    assert "inception_v3@0cc3c7bd" in mismatch[0].error.message


async def test_bad_items_fail_alone_and_good_ones_land(svc: RunningEmbedder) -> None:
    good = [item("good-1"), item("good-2")]
    bad = {
        "corrupt": (item("corrupt", image=img(b"GIF89a-garbage")), "not an image"),
        "empty": (item("empty", image=img(b"")), "empty"),
        "large": (item("large", image=img(b"\xff" * 300_001)), "above the limit"),
        "bomb": (item("bomb", image=img(decompression_bomb())), "decompression bomb"),
        "dim": (
            item("dim", vector=common_pb2.Embedding(values=[1.0] * 7)),
            "dimension 7, expected 1280",
        ),
        "nan": (item("nan", vector=common_pb2.Embedding(values=[math.nan] * 1280)), "NaN"),
        "inf": (
            item("inf", vector=common_pb2.Embedding(values=[math.inf] * 1280)),
            "NaN or infinite",
        ),
        "no-id": (item(""), "product_id is missing"),
        "negative": (item("negative", price=-1.0), "price -1.0"),
        "nan-price": (item("nan-price", price=math.nan), "price nan"),
        "scheme": (item("scheme", image=img(uri="gopher://x/y.jpg")), "scheme 'gopher'"),
        "outside": (item("outside", image=img(uri="file:///etc/passwd")), "outside the allowed"),
        "missing": (
            OUT.ProductUpsert(product=common_pb2.ProductAttributes(product_id="missing")),
            "neither an image nor a vector",
        ),
    }
    results = await upsert(svc, good[0], *(b for b, _ in bad.values()), good[1])
    assert results[0].outcome == results[-1].outcome == OUT.UPSERT_OUTCOME_UPSERTED
    for result, (name, (_, reason)) in zip(results[1:-1], bad.items(), strict=True):
        assert result.outcome == OUT.UPSERT_OUTCOME_FAILED, name
        assert result.error.code == common_pb2.INVALID_ARGUMENT, name
        assert reason in result.error.message, (name, result.error.message)
    assert await points(svc) == 2


async def test_stream_upsert_summary_and_index(svc: RunningEmbedder) -> None:
    async def batches() -> AsyncIterator[OUT.UpsertProductsRequest]:
        for b in range(3):
            yield OUT.UpsertProductsRequest(items=[item(f"s{b}-{i}") for i in range(4)])
        yield OUT.UpsertProductsRequest(items=[item("s0-0"), item("broken", image=img(b"x"))])

    summary = await svc.stub.StreamUpsertProducts(batches())
    assert (summary.received, summary.upserted, summary.unchanged, summary.failed) == (14, 12, 1, 1)
    assert summary.failures[0].product_id == "broken"
    assert "not an image" in summary.failures[0].error.message
    assert await points(svc) == 12


async def test_update_attributes_without_the_model(
    svc: RunningEmbedder, effnet_engine: InferenceEngine
) -> None:
    await upsert(svc, item("u1", title="Old", price=30.0))
    embedded = effnet_engine.images_embedded
    response = await svc.stub.UpdateProducts(
        OUT.UpdateProductsRequest(
            patches=[
                OUT.ProductPatch(product_id="u1", price=19.99, in_stock=False),
                OUT.ProductPatch(product_id="u1", price=19.99),
                OUT.ProductPatch(product_id="nope", price=1.0),
                OUT.ProductPatch(product_id="u1", price=-5.0),
            ]
        )
    )
    outcomes = [r.outcome for r in response.results]
    assert outcomes == [
        OUT.UPDATE_OUTCOME_UPDATED,
        OUT.UPDATE_OUTCOME_UNCHANGED,
        OUT.UPDATE_OUTCOME_FAILED,
        OUT.UPDATE_OUTCOME_FAILED,
    ]
    assert response.results[2].error.code == common_pb2.NOT_FOUND
    assert response.results[3].error.code == common_pb2.INVALID_ARGUMENT
    assert effnet_engine.images_embedded == embedded


async def test_delete(svc: RunningEmbedder) -> None:
    await upsert(svc, item("d1"), item("d2"))
    response = await svc.stub.DeleteProducts(OUT.DeleteProductsRequest(product_ids=["d1", "ghost"]))
    assert list(response.deleted) == ["d1"]
    assert list(response.not_found) == ["ghost"]
    assert await points(svc) == 1
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await svc.stub.DeleteProducts(OUT.DeleteProductsRequest())
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_health(svc: RunningEmbedder) -> None:
    # Reflection (off by default): tests/test_reflection_default.py.
    health = health_pb2_grpc.HealthStub(svc.channel)
    for name in ("", "vrs.v1.EmbedderService"):
        answer = await health.Check(health_pb2.HealthCheckRequest(service=name))
        assert answer.status == health_pb2.HealthCheckResponse.SERVING


async def test_graceful_shutdown_drains_in_flight_calls(
    tmp_path: Path, effnet_engine: InferenceEngine
) -> None:
    slow = make_embedder(effnet_engine, max_batch_wait_ms=800)
    async with embedder_server(tmp_path, slow) as running:
        health = health_pb2_grpc.HealthStub(running.channel)
        watch = health.Watch(health_pb2.HealthCheckRequest(service="vrs.v1.EmbedderService"))
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
        in_flight = asyncio.ensure_future(
            running.stub.Embed(OUT.EmbedRequest(images=[img(product_jpeg())]))
        )
        await asyncio.sleep(0.3)
        stopping = asyncio.ensure_future(running.server.stop(5))
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.NOT_SERVING
        response = await in_flight
        assert len(response.results[0].embedding.values) == 1280
        await stopping
        with pytest.raises(grpc.aio.AioRpcError) as failure:
            await running.stub.Embed(OUT.EmbedRequest(images=[img(product_jpeg())]), timeout=2)
        assert failure.value.code() == grpc.StatusCode.UNAVAILABLE
    await slow.close()
