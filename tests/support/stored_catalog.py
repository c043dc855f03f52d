"""Small catalogs of stored products with random vectors, written straight to a store."""

from __future__ import annotations

import numpy as np

from vrs.catalog.products import Product, StoredProduct


def toy_catalog(model_id: str, dimension: int, n: int = 30, seed: int = 1) -> list[StoredProduct]:
    """n products p0..p{n-1} over three categories and two brands, prices 0..n-1."""
    rng = np.random.default_rng(seed)
    return [
        StoredProduct(
            Product(
                product_id=f"p{i}",
                title=f"product {i}",
                category=("a", "b", "c")[i % 3],
                brand=("x", "y")[i % 2],
                price=float(i),
                in_stock=i % 4 != 0,
            ),
            model_id,
            image_sha256=f"sha-{i}",
            vector=rng.normal(size=dimension).astype(np.float32),
        )
        for i in range(n)
    ]
