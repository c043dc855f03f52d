"""Products with several photos and variant groups, as the store holds them: builders for the
store tests (small vectors, photos placed where a test wants them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import qdrant_edge as qe
from qdrant_client import models as qm

from vrs.catalog.products import Product, StoredPhoto, StoredProduct
from vrs.store.base import VectorStore
from vrs.store.qdrant_edge_store import QdrantEdgeStore
from vrs.store.qdrant_server_store import QdrantServerStore

DIM = 16
MODEL = "toy@test"


def axis(n: int, length: float = 1.0) -> np.ndarray:
    """The unit vector of axis n, scaled: photos on one axis are near each other."""
    vector = np.zeros(DIM, dtype=np.float32)
    vector[n] = length
    return vector


def photographed(product_id: str, vectors: Sequence[np.ndarray], **attrs: Any) -> StoredProduct:
    """A product whose photos have these vectors, photo n at file:///<id>/<n>.jpg."""
    photos = tuple(
        StoredPhoto(
            image_uri=f"file:///{product_id}/{n}.jpg",
            image_sha256=f"{product_id}-{n}",
            vector=np.asarray(v, dtype=np.float32),
        )
        for n, v in enumerate(vectors)
    )
    product = Product(product_id, image_uri=photos[0].image_uri, **attrs)
    return StoredProduct(product, MODEL, photos=photos)


def random_catalog(
    products: int, photos: tuple[int, int], groups: int, seed: int
) -> list[StoredProduct]:
    """`products` random products of photos[0]..photos[1] photos each, prices 0-99, half of
    them in one of `groups` variant groups."""
    rng = np.random.default_rng(seed)
    catalog = []
    for i in range(products):
        count = int(rng.integers(photos[0], photos[1] + 1))
        vectors = [rng.normal(size=DIM).astype(np.float32) for _ in range(count)]
        group = f"group-{rng.integers(groups)}" if i % 2 else ""
        catalog.append(photographed(f"p{i}", vectors, price=float(i % 100), group_id=group))
    return catalog


def legacy_payload(product: Product, model_id: str) -> dict[str, Any]:
    """A point's payload as releases before several photos wrote it (no photo index, no
    group key)."""
    payload = StoredProduct(product, model_id).to_payload()
    return {k: v for k, v in payload.items() if k not in ("photo_index", "group_key", "group_id")}


def write_raw(store: VectorStore, point: str, vector: np.ndarray, payload: dict[str, Any]) -> None:
    """A point written as an older release wrote it, past the adapter."""
    if isinstance(store, QdrantEdgeStore):
        flagged = {**payload, "in_stock_flag": 1}
        raw = qe.UpdateOperation.upsert_points([qe.Point(point, vector.tolist(), flagged)])
        store._shard.update(raw)
    else:
        assert isinstance(store, QdrantServerStore)
        raw_point = qm.PointStruct(id=point, vector=vector.tolist(), payload=payload)
        store._client.upsert(store.collection, [raw_point])
