"""Where the tests' real catalog and stores come from: types shared by fixtures and tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from vrs.store.base import VectorStore

SEED_CATALOG = Path(__file__).resolve().parents[3] / "shared" / "catalog" / "seed-products"

# Opens a store of one adapter for (model id, dimension); the `store_factory` fixture gives one.
StoreFactory = Callable[[str, int], VectorStore]
