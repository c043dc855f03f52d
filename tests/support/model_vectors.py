"""Vectors of a model no embedder runs (a catalog's legacy vectors), for import tests."""

from __future__ import annotations

import numpy as np

from vrs.v1 import common_pb2, embedder_pb2

LEGACY_MODEL = "legacy_cnn@2015"
LEGACY_DIMENSION = 16


def legacy_vectors(count: int, seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(count, LEGACY_DIMENSION)).astype(np.float32)


def vector_upsert(
    product_id: str, vector: np.ndarray, model_id: str = LEGACY_MODEL, **attributes: object
) -> embedder_pb2.ProductUpsert:
    return embedder_pb2.ProductUpsert(
        product=common_pb2.ProductAttributes(product_id=product_id, **attributes),  # type: ignore[arg-type]
        vector=common_pb2.Embedding(values=vector.tolist(), model_id=model_id),
    )


def nearest_ids(vectors: np.ndarray, ids: list[str], query: int, k: int) -> list[str]:
    """The k products nearest product `query` by Euclidean distance, itself excluded."""
    distances = np.linalg.norm(vectors - vectors[query], axis=1)
    order = [i for i in np.argsort(distances, kind="stable") if i != query]
    return [ids[i] for i in order[:k]]
