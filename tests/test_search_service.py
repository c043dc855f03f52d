"""The search service over real gRPC: nearest products, filters, more-like-this, batches,
bad input, and what happens when a dependency is missing."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import numpy as np
import pytest
import pytest_asyncio
from qdrant_client import QdrantClient

from services.embedder.embedding import ImageEmbedder
from services.embedder.model.engine import InferenceEngine
from services.process_roles import LocalQueryEmbedder, create_server
from services.search.query_embedder import QueryEmbedder
from tests.support.factories import make_embedder, settings_for
from tests.support.images import product_jpeg
from tests.support.redis_server import free_port
from tests.support.search_env import Vrs, running_vrs
from tests.support.servers import embedder_server
from tests.support.stores import StoreFactory
from vrs.settings import Settings, StoreSettings
from vrs.store.async_store import AsyncStore
from vrs.store.qdrant_server_store import QdrantServerStore
from vrs.v1 import common_pb2, embedder_pb2, search_pb2, search_pb2_grpc

N = 300
CATEGORIES = ["shirt", "shoes", "bag", "hat", "dress"]
BRANDS = ["Northwind", "Fabrikam", "Tailspin", "Contoso"]


def random_catalog(dimension: int, seed: int = 5) -> tuple[list[dict], np.ndarray]:
    rng = random.Random(seed)
    vectors = np.random.default_rng(seed).normal(size=(N, dimension)).astype(np.float32)
    products = [
        {
            "product_id": f"r{i:03d}",
            "category": rng.choice(CATEGORIES),
            "brand": rng.choice(BRANDS),
            "price": round(rng.uniform(5, 200), 2),
            "in_stock": rng.random() > 0.3,
            "title": f"Random {i}",
        }
        for i in range(N)
    ]
    return products, vectors


@pytest_asyncio.fixture
async def vrs(
    tmp_path: Path, effnet: ImageEmbedder, store_factory: StoreFactory
) -> AsyncIterator[Vrs]:
    store = store_factory(effnet.model_id, effnet.dimension)
    # exact_threshold 50: selective filters go exact, broad ones walk the HNSW graph.
    async with running_vrs(tmp_path, effnet, store, search={"exact_threshold": 50}) as running:
        yield running


@pytest_asyncio.fixture
async def random_vrs(vrs: Vrs, effnet: ImageEmbedder) -> tuple[Vrs, list[dict], np.ndarray]:
    products, vectors = random_catalog(effnet.dimension)

    async def batches() -> AsyncIterator[embedder_pb2.UpsertProductsRequest]:
        for start in range(0, N, 100):
            yield embedder_pb2.UpsertProductsRequest(
                items=[
                    embedder_pb2.ProductUpsert(
                        product=common_pb2.ProductAttributes(**p),
                        vector=common_pb2.Embedding(values=v.tolist(), model_id=effnet.model_id),
                    )
                    for p, v in zip(
                        products[start : start + 100], vectors[start : start + 100], strict=True
                    )
                ]
            )

    summary = await vrs.embedder.StreamUpsertProducts(batches())
    assert summary.upserted == N
    return vrs, products, vectors


FILTERS = [
    {},
    {"max_price": 50.0},
    {"min_price": 20.0, "max_price": 60.0},
    {"categories": ["shoes"]},
    {"categories": ["shoes", "bag"], "max_price": 100.0},
    {"brands": ["Contoso"], "in_stock_only": True},
    {"categories": ["dress"], "brands": ["Tailspin"], "min_price": 30.0, "in_stock_only": True},
    {"min_price": 195.0},
]


def matches(p: dict, flt: dict) -> bool:
    return (
        (flt.get("min_price") is None or p["price"] >= flt["min_price"])
        and (flt.get("max_price") is None or p["price"] <= flt["max_price"])
        and (not flt.get("categories") or p["category"] in flt["categories"])
        and (not flt.get("brands") or p["brand"] in flt["brands"])
        and (not flt.get("in_stock_only") or p["in_stock"])
    )


@pytest.mark.parametrize("flt", FILTERS, ids=[str(i) for i in range(len(FILTERS))])
async def test_filtered_results_equal_brute_force(
    random_vrs: tuple[Vrs, list[dict], np.ndarray], flt: dict
) -> None:
    vrs, products, vectors = random_vrs
    for probe in (0, 77, 150, 299):
        response = await vrs.search.SearchByProduct(
            search_pb2.SearchByProductRequest(
                product_id=products[probe]["product_id"],
                k=10,
                filter=search_pb2.SearchFilter(**flt),
            )
        )
        distances = np.linalg.norm(vectors - vectors[probe], axis=1)
        expected = [
            products[i]["product_id"]
            for i in np.argsort(distances)
            if i != probe and matches(products[i], flt)
        ][:10]
        got = [m.product_id for m in response.matches]
        assert got == expected, flt
        for m in response.matches:
            assert matches(
                {
                    "price": m.product.price,
                    "category": m.product.category,
                    "brand": m.product.brand,
                    "in_stock": m.product.in_stock,
                },
                flt,
            )
            index = int(m.product_id[1:])
            assert m.distance == pytest.approx(float(distances[index]), rel=1e-3)


async def test_search_by_product_excludes_itself_and_max_distance(
    random_vrs: tuple[Vrs, list[dict], np.ndarray],
) -> None:
    vrs, _, _ = random_vrs
    response = await vrs.search.SearchByProduct(
        search_pb2.SearchByProductRequest(product_id="r010", k=100)
    )
    assert len(response.matches) == 100
    assert "r010" not in {m.product_id for m in response.matches}
    cutoff = (response.matches[4].distance + response.matches[5].distance) / 2
    near = await vrs.search.SearchByProduct(
        search_pb2.SearchByProductRequest(product_id="r010", k=100, max_distance=cutoff)
    )
    assert [m.product_id for m in near.matches] == [m.product_id for m in response.matches[:5]]
    default = await vrs.search.SearchByProduct(search_pb2.SearchByProductRequest(product_id="r010"))
    assert len(default.matches) == 10


async def test_unknown_product_is_not_found(vrs: Vrs) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await vrs.search.SearchByProduct(search_pb2.SearchByProductRequest(product_id="ghost"))
    assert failure.value.code() == grpc.StatusCode.NOT_FOUND
    assert "ghost" in (failure.value.details() or "")


BAD = {
    "corrupt-image": (
        search_pb2.SearchByImageRequest(image=common_pb2.ImageSource(data=b"not an image")),
        "not an image",
    ),
    "k=0": (
        search_pb2.SearchByImageRequest(image=common_pb2.ImageSource(data=product_jpeg()), k=0),
        "k must be between 1 and 100",
    ),
    "k=101": (
        search_pb2.SearchByImageRequest(image=common_pb2.ImageSource(data=product_jpeg()), k=101),
        "got 101",
    ),
    "min>max": (
        search_pb2.SearchByImageRequest(
            image=common_pb2.ImageSource(data=product_jpeg()),
            filter=search_pb2.SearchFilter(min_price=50, max_price=10),
        ),
        "min_price 50.0 is above",
    ),
    "negative-distance": (
        search_pb2.SearchByImageRequest(
            image=common_pb2.ImageSource(data=product_jpeg()), max_distance=-1
        ),
        "max_distance",
    ),
    "no-image": (search_pb2.SearchByImageRequest(), "image is missing"),
}


@pytest.mark.parametrize("name", list(BAD))
async def test_bad_input_is_invalid_argument(vrs: Vrs, name: str) -> None:
    request, reason = BAD[name]
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await vrs.search.SearchByImage(request)
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason in (failure.value.details() or "")


async def test_unknown_category_is_fine_and_returns_nothing(
    random_vrs: tuple[Vrs, list[dict], np.ndarray],
) -> None:
    vrs, _, _ = random_vrs
    response = await vrs.search.SearchByImage(
        search_pb2.SearchByImageRequest(
            image=common_pb2.ImageSource(data=product_jpeg()),
            filter=search_pb2.SearchFilter(categories=["spaceships"]),
        )
    )
    assert list(response.matches) == []


async def test_batch_search_fails_bad_queries_alone(
    random_vrs: tuple[Vrs, list[dict], np.ndarray],
) -> None:
    vrs, _, _ = random_vrs
    response = await vrs.search.BatchSearch(
        search_pb2.BatchSearchRequest(
            queries=[
                search_pb2.SearchQuery(
                    by_product=search_pb2.SearchByProductRequest(product_id="r001", k=3)
                ),
                search_pb2.SearchQuery(
                    by_product=search_pb2.SearchByProductRequest(product_id="nope")
                ),
                search_pb2.SearchQuery(
                    by_image=search_pb2.SearchByImageRequest(
                        image=common_pb2.ImageSource(data=product_jpeg()), k=2
                    )
                ),
                search_pb2.SearchQuery(
                    by_image=search_pb2.SearchByImageRequest(
                        image=common_pb2.ImageSource(data=b"junk")
                    )
                ),
            ]
        )
    )
    kinds = [r.WhichOneof("result") for r in response.results]
    assert kinds == ["response", "error", "response", "error"]
    assert len(response.results[0].response.matches) == 3
    assert response.results[1].error.code == common_pb2.NOT_FOUND
    assert len(response.results[2].response.matches) == 2
    assert response.results[3].error.code == common_pb2.INVALID_ARGUMENT


async def test_split_deployment_embeds_over_grpc(
    tmp_path: Path, effnet: ImageEmbedder, store_factory: StoreFactory
) -> None:
    """Search and embedder as separate servers; the search replica asks the embedder."""
    store = store_factory(effnet.model_id, effnet.dimension)
    async with embedder_server(tmp_path, effnet, store) as emb:
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
        settings = settings_for(tmp_path, search={"embedder_address": f"127.0.0.1:{emb.port}"})
        server, port = await create_server(settings, "search", store=AsyncStore(store, 10.0))
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = search_pb2_grpc.SearchServiceStub(channel)
            response = await stub.SearchByImage(
                search_pb2.SearchByImageRequest(
                    image=common_pb2.ImageSource(data=product_jpeg(seed=1)), k=3
                )
            )
            assert response.matches[0].product_id == "s1"
            assert response.model_id == effnet.model_id
        await server.stop(1)


async def failed_image_search(
    settings: Settings, embedder: QueryEmbedder | None, store: AsyncStore
) -> grpc.aio.AioRpcError:
    """A search server with these parts; the error one image query gets from it."""
    server, port = await create_server(settings, "search", query_embedder=embedder, store=store)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = search_pb2_grpc.SearchServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as failure:
                await stub.SearchByImage(
                    search_pb2.SearchByImageRequest(
                        image=common_pb2.ImageSource(data=product_jpeg())
                    ),
                    timeout=10,
                )
    finally:
        await server.stop(1)
    return failure.value


async def test_embedder_of_another_model_is_failed_precondition(
    tmp_path: Path,
    inception_engine: InferenceEngine,
    effnet: ImageEmbedder,
    store_factory: StoreFactory,
) -> None:
    inception = make_embedder(inception_engine)
    store = store_factory(effnet.model_id, effnet.dimension)  # the collection holds effnet vectors
    async with embedder_server(tmp_path, inception) as emb:
        settings = settings_for(tmp_path, search={"embedder_address": f"127.0.0.1:{emb.port}"})
        failure = await failed_image_search(settings, None, AsyncStore(store, 10.0))
    await inception.close()
    assert failure.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "inception_v3@random-seed0" in (failure.details() or "")


async def test_embedder_unreachable_is_unavailable(
    tmp_path: Path, effnet: ImageEmbedder, store_factory: StoreFactory
) -> None:
    store = store_factory(effnet.model_id, effnet.dimension)
    dead = f"127.0.0.1:{free_port()}"
    settings = settings_for(tmp_path, search={"embedder_address": dead, "embedder_timeout_s": 1.0})
    failure = await failed_image_search(settings, None, AsyncStore(store, 10.0))
    assert failure.code() == grpc.StatusCode.UNAVAILABLE
    assert "embedder unavailable" in (failure.details() or "")


async def test_qdrant_unreachable_is_unavailable(tmp_path: Path, effnet: ImageEmbedder) -> None:
    settings = StoreSettings(
        url=f"http://127.0.0.1:{free_port()}", prefer_grpc=False, timeout_s=1.0
    )
    client = QdrantClient(url=settings.url, prefer_grpc=False, timeout=1, check_compatibility=False)
    dead_store = QdrantServerStore(
        client, f"vrs_products__{effnet.model_id}", settings, effnet.model_id, effnet.dimension
    )
    failure = await failed_image_search(
        settings_for(tmp_path), LocalQueryEmbedder(effnet), AsyncStore(dead_store, 2.0)
    )
    assert failure.code() == grpc.StatusCode.UNAVAILABLE
    assert "Qdrant unavailable" in (failure.details() or "")
