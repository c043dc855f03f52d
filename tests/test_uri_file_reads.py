"""file:// reads take regular files only, in a bounded pool of their own: FIFOs, sockets and
devices are refused before anything could block on them, and cannot starve other reads."""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from qdrant_client import QdrantClient

from services.embedder.runtimes.engine import InferenceEngine
from tests.support.factories import make_embedder
from tests.support.images import product_jpeg
from tests.support.servers import embedder_server
from vrs.errors import Unavailable, UriRefused
from vrs.images.source import ImageFetcher, ImageInput
from vrs.settings import ImageSettings, StoreSettings
from vrs.store.qdrant_server_store import QdrantServerStore
from vrs.v1 import common_pb2, embedder_pb2

# Liveness bound only: before the fix these calls never returned.
LIVENESS_S = 10.0


@pytest.fixture
def root() -> Iterator[Path]:
    # Short on purpose: a unix socket path must fit in 108 bytes.
    with tempfile.TemporaryDirectory(prefix="vrs-") as folder:
        images = Path(folder)
        (images / "shirt.jpg").write_bytes(product_jpeg())
        os.mkfifo(images / "pipe.jpg")
        yield images


@pytest_asyncio.fixture
async def fetcher(root: Path) -> AsyncIterator[ImageFetcher]:
    f = ImageFetcher(ImageSettings(file_root=root, file_read_workers=2))
    yield f
    await f.close()


async def test_fifo_under_the_root_is_refused_at_once(root: Path, fetcher: ImageFetcher) -> None:
    with pytest.raises(UriRefused, match="not a regular file"):
        await asyncio.wait_for(
            fetcher.load(ImageInput(uri=(root / "pipe.jpg").as_uri())), LIVENESS_S
        )


async def test_many_fifo_requests_do_not_starve_regular_reads(
    root: Path, fetcher: ImageFetcher
) -> None:
    fifo = ImageInput(uri=(root / "pipe.jpg").as_uri())
    outcomes = await asyncio.wait_for(
        asyncio.gather(*(fetcher.load(fifo) for _ in range(7)), return_exceptions=True),
        LIVENESS_S,
    )
    assert all(isinstance(o, UriRefused) for o in outcomes)
    data = await asyncio.wait_for(
        fetcher.load(ImageInput(uri=(root / "shirt.jpg").as_uri())), LIVENESS_S
    )
    assert data == product_jpeg()


async def test_unix_socket_under_the_root_is_refused(root: Path, fetcher: ImageFetcher) -> None:
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(root / "sock.jpg"))
        listener.listen()
        with pytest.raises(UriRefused, match="not a regular file"):
            await fetcher.load(ImageInput(uri=(root / "sock.jpg").as_uri()))


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "/dev/urandom"])
async def test_devices_are_refused(device: str) -> None:
    f = ImageFetcher(ImageSettings(file_root=Path("/dev")))
    with pytest.raises(UriRefused, match="not a regular file"):
        await asyncio.wait_for(f.load(ImageInput(uri=f"file://{device}")), LIVENESS_S)
    await f.close()


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("file:shirt.jpg", "path must be absolute"),
        ("file:///x%00.jpg", "NUL byte"),
    ],
    ids=repr,
)
async def test_file_uri_paths_are_checked(fetcher: ImageFetcher, uri: str, reason: str) -> None:
    with pytest.raises(UriRefused, match=reason):
        await fetcher.load(ImageInput(uri=uri))


async def test_closed_fetcher_refuses_reads_instead_of_hanging(
    root: Path, fetcher: ImageFetcher
) -> None:
    await fetcher.close()
    with pytest.raises(Unavailable, match="file reader is closed"):
        await fetcher.load(ImageInput(uri=(root / "shirt.jpg").as_uri()))


async def test_fifo_embed_over_grpc_is_invalid_argument_and_the_server_stops(
    tmp_path: Path, root: Path, effnet_engine: InferenceEngine
) -> None:
    embedder = make_embedder(effnet_engine, ImageSettings(file_root=root))
    store = QdrantServerStore.open_for_writing(
        QdrantClient(":memory:"), StoreSettings(), embedder.model_id, embedder.dimension
    )

    async def scenario() -> None:
        async with embedder_server(tmp_path, embedder, store) as svc:
            fifo = common_pb2.ImageSource(uri=(root / "pipe.jpg").as_uri())
            for _ in range(7):
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await svc.stub.Embed(embedder_pb2.EmbedRequest(images=[fifo]))
                assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
                assert "not a regular file" in (refused.value.details() or "")
            shirt = common_pb2.ImageSource(uri=(root / "shirt.jpg").as_uri())
            response = await svc.stub.Embed(embedder_pb2.EmbedRequest(images=[shirt]))
            assert response.results[0].HasField("embedding")
        await embedder.close()

    try:
        await asyncio.wait_for(scenario(), LIVENESS_S)
    finally:
        store.close()
