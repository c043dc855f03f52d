"""Which store adapter a process gets, from its settings."""

from __future__ import annotations

from collections.abc import Callable

from qdrant_client import QdrantClient

from vrs.errors import ConfigurationError
from vrs.settings import StoreSettings
from vrs.store.base import VectorStore
from vrs.store.qdrant_edge_store import QdrantEdgeStore
from vrs.store.qdrant_errors import qdrant_errors
from vrs.store.qdrant_server_store import QdrantServerStore, connect


def open_store_for_writing(settings: StoreSettings, model_id: str, dimension: int) -> VectorStore:
    """The embedder's store: a Qdrant server when VRS_QDRANT_URL is set, else Qdrant Edge."""
    if settings.url:
        client = connect(settings)
        return _or_close(
            client,
            settings,
            lambda: QdrantServerStore.open_for_writing(client, settings, model_id, dimension),
        )
    return QdrantEdgeStore.open(settings, model_id, dimension)


def open_store_for_reading(settings: StoreSettings, model_id: str) -> VectorStore:
    """A search-only process's store: always a Qdrant server (shared with the embedders)."""
    check_shared_store(settings)
    client = connect(settings)
    return _or_close(
        client, settings, lambda: QdrantServerStore.open_for_reading(client, settings, model_id)
    )


def check_shared_store(settings: StoreSettings) -> None:
    """A process without its own store (search alone) needs a Qdrant server to share."""
    if not settings.url or settings.url == ":memory:":
        raise ConfigurationError(
            "the search service on its own needs a Qdrant server shared with the embedder: set "
            "VRS_QDRANT_URL. (A Qdrant Edge data directory has one owner process; run both "
            "services in one process with `vrs serve` to use it.)"
        )


def _or_close(
    client: QdrantClient, settings: StoreSettings, open_store: Callable[[], VectorStore]
) -> VectorStore:
    """open_store(), its Qdrant failures naming the endpoint; the client closed if it fails."""
    try:
        with qdrant_errors(settings):
            return open_store()
    except BaseException:
        client.close()
        raise
