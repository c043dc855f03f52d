"""Builders for tests of the search's cache-hit path: what reaches Redis, a by-product-only
query embedder, a catalog written as vectors."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import redis

from services.search.query_embedder import EmbeddedQuery
from tests.support.search_env import Vrs
from vrs.catalog.products import Product, StoredProduct
from vrs.images.region import Region
from vrs.store.base import VectorStore
from vrs.v1 import common_pb2, embedder_pb2

_START, _STOP = "vrs-monitor-start", "vrs-monitor-stop"


@contextmanager
def client_commands(url: str) -> Iterator[list[str]]:
    """The commands other clients send the Redis at `url` meanwhile (names, upper case), as
    its MONITOR reports them; commands a script runs inside Redis are left out."""
    seen: list[str] = []
    started = threading.Event()

    def watch() -> None:
        # Our echoing client's own commands (its HELLO may come before we know its port).
        ours: set[str] = set()
        entries: list[tuple[str, str]] = []
        with redis.Redis.from_url(url) as client, client.monitor() as monitor:
            while True:
                entry = monitor.next_command()
                words = str(entry["command"]).split()
                if words[-1:] in ([_START], [_STOP]):
                    ours.add(str(entry["client_port"]))
                    started.set()
                    if words[-1] == _STOP:
                        seen.extend(name for port, name in entries if port not in ours)
                        return
                elif entry.get("client_type") != "lua":
                    entries.append((str(entry["client_port"]), words[0].upper()))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    with redis.Redis.from_url(url) as client:
        # MONITOR starts asynchronously: echo until the watcher sees one.
        while not started.wait(0.05):
            client.echo(_START)
        try:
            yield seen
        finally:
            client.echo(_STOP)
            watcher.join(10)


class ProductsOnlyEmbedder:
    """A query embedder for by-product searches: knows its model, never embeds."""

    def __init__(self, model_id: str) -> None:
        self._model_id = model_id

    async def embed(self, data: bytes, region: Region | None) -> EmbeddedQuery:
        raise AssertionError("a by-product search embeds nothing")

    async def model_id(self) -> str:
        return self._model_id

    async def close(self) -> None:
        return None


def write_vectors(store: VectorStore, vectors: np.ndarray) -> None:
    """Products p0, p1, ... with these vectors, straight into the store."""
    store.upsert(
        [
            StoredProduct(Product(f"p{i}", category="bag", price=10.0), store.model_id, vector=v)
            for i, v in enumerate(vectors)
        ]
    )


async def upsert_vectors(vrs: Vrs, model_id: str, vectors: np.ndarray) -> None:
    """Products p0, p1, ... with these vectors, through the embedder's gRPC API."""
    response = await vrs.embedder.UpsertProducts(
        embedder_pb2.UpsertProductsRequest(
            items=[
                embedder_pb2.ProductUpsert(
                    product=common_pb2.ProductAttributes(
                        product_id=f"p{i}", category="bag", price=10.0 + i, title=f"P{i}"
                    ),
                    vector=common_pb2.Embedding(values=v.tolist(), model_id=model_id),
                )
                for i, v in enumerate(vectors)
            ]
        )
    )
    assert all(r.outcome == embedder_pb2.UPSERT_OUTCOME_UPSERTED for r in response.results)
