"""The scalar quantization settings reach the Qdrant Edge engine: the shard's layout and the
search's rescoring."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vrs.catalog.products import Product, StoredProduct
from vrs.settings import StoreSettings
from vrs.store.qdrant_edge_store import QdrantEdgeStore
from vrs.store.query import SearchRequest

DIM = 64
MODEL = "toy@test"


def indexed_store(tmp_path: Path, **settings: object) -> tuple[QdrantEdgeStore, np.ndarray]:
    """300 random points, optimised (the quantised copy exists), and their vectors."""
    store = QdrantEdgeStore.open(
        StoreSettings.model_validate(
            {"data_dir": tmp_path, "indexing_threshold_kb": 10, **settings}
        ),
        MODEL,
        DIM,
    )
    vectors = np.random.default_rng(0).normal(size=(300, DIM)).astype(np.float32)
    store.upsert([StoredProduct(Product(f"p{i}"), MODEL, vector=v) for i, v in enumerate(vectors)])
    store.optimize()
    return store, vectors


def distance_errors(store: QdrantEdgeStore, vectors: np.ndarray) -> np.ndarray:
    """How far each returned distance is from the true one, relatively, for one query."""
    query = np.random.default_rng(1).normal(size=DIM).astype(np.float32)
    hits = store.search(SearchRequest(query, 10, exact=False, hnsw_ef=64))
    true = np.array(
        [np.linalg.norm(vectors[int(h.stored.product.product_id[1:])] - query) for h in hits]
    )
    return np.abs(np.array([h.distance for h in hits]) - true) / true


@pytest.mark.parametrize("quantized", [True, False])
def test_edge_shard_layout_follows_the_setting(tmp_path: Path, quantized: bool) -> None:
    store, _ = indexed_store(tmp_path, scalar_quantization=quantized)
    store.close()
    config = json.loads(next(tmp_path.glob("*/edge_config.json")).read_text(encoding="utf-8"))
    expected = {"scalar": {"type": "int8", "always_ram": True}} if quantized else None
    assert config.get("quantization_config") == expected


def test_rescoring_returns_the_original_vectors_distances(tmp_path: Path) -> None:
    store, vectors = indexed_store(tmp_path, scalar_quantization=True, quantization_rescore=True)
    assert distance_errors(store, vectors).max() < 1e-5
    store.close()


def test_without_rescoring_distances_come_from_the_int8_copy(tmp_path: Path) -> None:
    store, vectors = indexed_store(tmp_path, scalar_quantization=True, quantization_rescore=False)
    assert distance_errors(store, vectors).max() > 1e-4
    store.close()
