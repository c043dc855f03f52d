"""Which store adapter a process gets, from its settings."""

from __future__ import annotations

from vrs.errors import ConfigurationError
from vrs.settings import StoreSettings
from vrs.store.base import VectorStore
from vrs.store.qdrant_edge_store import QdrantEdgeStore
from vrs.store.qdrant_server_store import QdrantServerStore, connect


def open_store_for_writing(settings: StoreSettings, model_id: str, dimension: int) -> VectorStore:
    """The embedder's store: a Qdrant server when VRS_QDRANT_URL is set, else Qdrant Edge."""
    if settings.url:
        return QdrantServerStore.open_for_writing(connect(settings), settings, model_id, dimension)
    return QdrantEdgeStore.open(settings, model_id, dimension)


def open_store_for_reading(settings: StoreSettings, model_id: str) -> VectorStore:
    """A search-only process's store: always a Qdrant server (shared with the embedders)."""
    check_shared_store(settings)
    return QdrantServerStore.open_for_reading(connect(settings), settings, model_id)


def check_shared_store(settings: StoreSettings) -> None:
    """A process without its own store (search alone) needs a Qdrant server to share."""
    if not settings.url or settings.url == ":memory:":
        raise ConfigurationError(
            "the search service on its own needs a Qdrant server shared with the embedder: set "
            "VRS_QDRANT_URL. (A Qdrant Edge data directory has one owner process; run both "
            "services in one process with `vrs serve` to use it.)"
        )
