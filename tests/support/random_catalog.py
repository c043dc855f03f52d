"""A catalog of random vectors and attributes, indexed through a running vrs (`random_vrs`
indexes it into `searching_vrs`)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import numpy as np

from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.search_env import Vrs
from vrs.v1 import common_pb2, embedder_pb2

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


async def index_random_catalog(vrs: Vrs, embedder: ImageEmbedder) -> tuple[list[dict], np.ndarray]:
    """Streams random_catalog() into `vrs` with its vectors; returns products and vectors."""
    products, vectors = random_catalog(embedder.dimension)

    async def batches() -> AsyncIterator[embedder_pb2.UpsertProductsRequest]:
        for start in range(0, N, 100):
            yield embedder_pb2.UpsertProductsRequest(
                items=[
                    embedder_pb2.ProductUpsert(
                        product=common_pb2.ProductAttributes(**p),
                        vector=common_pb2.Embedding(values=v.tolist(), model_id=embedder.model_id),
                    )
                    for p, v in zip(
                        products[start : start + 100], vectors[start : start + 100], strict=True
                    )
                ]
            )

    summary = await vrs.embedder.StreamUpsertProducts(batches())
    assert summary.upserted == N
    return products, vectors
