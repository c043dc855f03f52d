"""The vector store: one small interface, a Qdrant server adapter and a Qdrant Edge adapter."""

from vrs.store.base import Hit, StoreInfo, VectorStore
from vrs.store.filters import ProductFilter

__all__ = ["Hit", "ProductFilter", "StoreInfo", "VectorStore"]
