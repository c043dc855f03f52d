"""Products and upserts for the validation tests: vectors with their model id, attributes at
their size limits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from vrs.catalog.products import Product
from vrs.limits import (
    MAX_BRAND_BYTES,
    MAX_CATEGORY_BYTES,
    MAX_IMAGE_URI_BYTES,
    MAX_PRODUCT_ID_BYTES,
    MAX_TITLE_BYTES,
)
from vrs.v1 import common_pb2, embedder_pb2

# U+1F455 T-SHIRT: 4 bytes in UTF-8, the most any character takes, and allowed in ids.
WIDE = "\U0001f455"


def wide_text(max_bytes: int, prefix: str = "") -> str:
    """Exactly max_bytes of UTF-8: an ASCII prefix, then as many 4-byte characters as fit."""
    room = max_bytes - len(prefix)
    return prefix + WIDE * (room // 4) + "x" * (room % 4)


def largest_product(n: int) -> Product:
    """A valid product with every attribute at its limit (product n of a set: ids differ)."""
    return Product(
        product_id=wide_text(MAX_PRODUCT_ID_BYTES, f"{n:05d}"),
        title=wide_text(MAX_TITLE_BYTES),
        category=wide_text(MAX_CATEGORY_BYTES),
        brand=wide_text(MAX_BRAND_BYTES),
        price=123456.78,
        currency="EUR",
        in_stock=False,
        image_uri=wide_text(MAX_IMAGE_URI_BYTES, "https://img.example.com/"),
        group_id=wide_text(MAX_PRODUCT_ID_BYTES, f"g{n:05d}"),
    )


def unit_vector(dimension: int, seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=dimension)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def vector_upsert(
    product_id: str, values: Sequence[float] | np.ndarray, model_id: str, **attributes: Any
) -> embedder_pb2.ProductUpsert:
    """A product with a precomputed vector of `model_id`."""
    return embedder_pb2.ProductUpsert(
        product=common_pb2.ProductAttributes(product_id=product_id, **attributes),
        vector=common_pb2.Embedding(values=[float(v) for v in values], model_id=model_id),
    )
