"""Qdrant servers that fail: a loopback port nobody listens on, and one that never answers."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

from qdrant_client import QdrantClient

from vrs.settings import StoreSettings
from vrs.store.base import collection_name
from vrs.store.qdrant_server_store import QdrantServerStore

# Backlog of the silent port: connections are completed by the kernel and left unanswered.
_BACKLOG = 16


@contextmanager
def silent_port() -> Iterator[int]:
    """A loopback port that takes TCP connections and never answers them (a hung server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(_BACKLOG)
        yield int(sock.getsockname()[1])


def server_store_at(
    port: int, model_id: str, dimension: int, *, client_timeout_s: int = 1
) -> QdrantServerStore:
    """A Qdrant server store over REST at a loopback port, opened without asking the server
    (its collection is assumed), so the first call is the one that meets the failure."""
    settings = StoreSettings(url=f"http://127.0.0.1:{port}", prefer_grpc=False, timeout_s=1.0)
    client = QdrantClient(
        url=settings.url, prefer_grpc=False, timeout=client_timeout_s, check_compatibility=False
    )
    name = collection_name(settings.collection_prefix, model_id)
    return QdrantServerStore(client, name, settings, model_id, dimension)
