"""Image URIs: file:// only inside the root, http(s) only to allowed hosts, within limits."""

from __future__ import annotations

import asyncio
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.images import product_jpeg
from vrs.errors import InvalidImage, Unavailable, UriRefused
from vrs.images.source import ImageFetcher, ImageInput
from vrs.settings import ImageSettings


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "shirt.jpg").write_bytes(product_jpeg())
    (tmp_path / "secret.jpg").write_bytes(product_jpeg(seed=5))
    (folder / "escape.jpg").symlink_to(tmp_path / "secret.jpg")
    return folder


@pytest.fixture
def image_server() -> Iterator[str]:
    """A real HTTP server on loopback serving a small and a large image, and a redirect."""
    small, large = product_jpeg(), b"\xff" * 300_000

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "http://example.com/x.jpg")
                self.end_headers()
                return
            if self.path == "/slow.jpg":
                threading.Event().wait(2)
            body = {"/small.jpg": small, "/large.jpg": large, "/slow.jpg": small}.get(self.path)
            if body is None:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def fetcher(root: Path | None = None, **settings: object) -> ImageFetcher:
    return ImageFetcher(ImageSettings(file_root=root, **settings))  # type: ignore[arg-type]


async def test_file_inside_root(root: Path) -> None:
    data = await fetcher(root).load(ImageInput(uri=(root / "shirt.jpg").as_uri()))
    assert data == (root / "shirt.jpg").read_bytes()


@pytest.mark.parametrize(
    ("make_uri", "reason"),
    [
        (lambda r: f"file://{r}/../secret.jpg", "outside the allowed image root"),
        (lambda r: (r / "escape.jpg").as_uri(), "outside the allowed image root"),
        (lambda r: "file:///etc/passwd", "outside the allowed image root"),
        (lambda r: f"file://otherhost{r}/shirt.jpg", "must not name a host"),
        (lambda r: "ftp://example.com/a.jpg", "scheme 'ftp' is not allowed"),
        (lambda r: "gopher://x/y", "scheme 'gopher' is not allowed"),
        (lambda r: "shirt.jpg", r"scheme '\(none\)' is not allowed"),
        (lambda r: "http://evil.example.com/a.jpg", "not in VRS_IMAGE_HTTP_ALLOWED_HOSTS"),
    ],
    ids=[
        "dotdot",
        "symlink-out",
        "absolute-out",
        "file-host",
        "ftp",
        "gopher",
        "no-scheme",
        "host-not-allowed",
    ],
)
async def test_refused_uris(root: Path, make_uri: object, reason: str) -> None:
    with pytest.raises(UriRefused, match=reason):
        await fetcher(root).load(ImageInput(uri=make_uri(root)))  # type: ignore[operator]


async def test_file_uris_off_without_root() -> None:
    with pytest.raises(UriRefused, match="VRS_IMAGE_FILE_ROOT unset"):
        await fetcher(None).load(ImageInput(uri="file:///tmp/x.jpg"))


async def test_missing_file_and_byte_limit(root: Path) -> None:
    with pytest.raises(InvalidImage, match="no such file"):
        await fetcher(root).load(ImageInput(uri=(root / "nope.jpg").as_uri()))
    with pytest.raises(InvalidImage, match="above the limit of 100"):
        await fetcher(root, max_bytes=100).load(ImageInput(uri=(root / "shirt.jpg").as_uri()))
    with pytest.raises(InvalidImage, match="above the limit of 100"):
        await fetcher(root, max_bytes=100).load(ImageInput(data=b"x" * 101))
    with pytest.raises(InvalidImage, match="empty"):
        await fetcher(root).load(ImageInput(data=b""))


def host_port(server_url: str) -> str:
    return server_url.removeprefix("http://")


async def test_http_allowed_host(image_server: str) -> None:
    f = fetcher(http_allowed_hosts=host_port(image_server))
    assert await f.load(ImageInput(uri=image_server + "/small.jpg")) == product_jpeg()
    with pytest.raises(InvalidImage, match="above the limit"):
        await fetcher(http_allowed_hosts=host_port(image_server), max_bytes=200_000).load(
            ImageInput(uri=image_server + "/large.jpg")
        )
    with pytest.raises(InvalidImage, match="HTTP 404"):
        await f.load(ImageInput(uri=image_server + "/missing.jpg"))
    with pytest.raises(InvalidImage, match="HTTP 302"):
        await f.load(ImageInput(uri=image_server + "/redirect"))
    await f.close()


async def test_http_timeout(image_server: str) -> None:
    f = fetcher(http_allowed_hosts=host_port(image_server), http_timeout_s=0.3)
    started = asyncio.get_running_loop().time()
    with pytest.raises(Unavailable, match=r"did not answer within 0\.3s"):
        await f.load(ImageInput(uri=image_server + "/slow.jpg"))
    assert asyncio.get_running_loop().time() - started < 1.5
    await f.close()
