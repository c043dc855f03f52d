"""`vrs serve` with its HTTP gateway, as `make web` runs it, with a few catalog products indexed.

A subprocess, not an in-process server: the browser tests drive Chromium with blocking calls,
which would starve a server sharing their event loop.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from services.cli.client import VrsClient
from services.cli.index import index_catalog
from services.demos.web_demo import gateway_ready
from tests.support.catalog import Row
from tests.support.redis_server import free_port
from tests.support.serve_process import serve_env, serving

READY_LIMIT_S = 60.0


def write_catalog(rows: Sequence[Row], path: Path) -> Path:
    """A catalog.csv of these rows, their photos by absolute path (several separated by
    `|`), with their variant groups."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["product_id", "title", "category", "brand", "price", "currency", "image", "group_id"]
        )
        for r in rows:
            price = f"{r.price:.2f}"
            images = "|".join(str(p.resolve()) for p in (r.image, *r.more_images))
            writer.writerow(
                [r.product_id, r.title, r.category, r.brand, price, r.currency, images, r.group_id]
            )
    return path


class WebServer(NamedTuple):
    """A running `vrs serve`: its gateway's base URL and its gRPC address."""

    url: str
    grpc_address: str


@contextmanager
def web_vrs(workdir: Path, photos_root: Path, rows: Sequence[Row]) -> Iterator[str]:
    """The gateway's base URL (http://127.0.0.1:PORT) of an all-in-one `vrs serve` running
    efficientnet_lite0 with its real weights, `rows` indexed and their photos served from
    photos_root."""
    with web_server(workdir, photos_root, rows) as server:
        yield server.url


@contextmanager
def web_server(workdir: Path, photos_root: Path, rows: Sequence[Row]) -> Iterator[WebServer]:
    """web_vrs's server, with its gRPC address too (for calls the page does not make)."""
    web_port = free_port()
    env = serve_env(
        workdir,
        VRS_MODEL_WEIGHTS="pretrained",
        VRS_WEB_PORT=str(web_port),
        VRS_IMAGE_FILE_ROOT=str(photos_root.resolve()),
        VRS_LOG_LEVEL="WARNING",
    )
    with serving(env, workdir / "serve.log") as address:
        client = VrsClient(address, timeout_s=120)
        try:
            if index_catalog(client, write_catalog(rows, workdir / "catalog.csv")):
                raise RuntimeError("indexing the test catalog failed")
        finally:
            client.close()
        url = f"http://127.0.0.1:{web_port}"
        _wait_ready(url, workdir / "serve.log")
        yield WebServer(url, address)


def _wait_ready(url: str, log: Path) -> None:
    if not gateway_ready(url, READY_LIMIT_S):
        raise RuntimeError(f"the gateway at {url} is not ready:\n{log.read_text()[-2000:]}")
