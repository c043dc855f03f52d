"""CORS: off unless origins are configured, then only for them."""

from __future__ import annotations

from pathlib import Path

from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.web_env import running_web

ORIGIN = "https://shop.example.com"


async def test_cors_is_off_by_default(tmp_path: Path, effnet: ImageEmbedder) -> None:
    async with running_web(tmp_path, effnet) as web:
        response = await web.http.get("/healthz", headers={"Origin": ORIGIN})
    assert "access-control-allow-origin" not in response.headers


async def test_cors_admits_only_the_configured_origins(
    tmp_path: Path, effnet: ImageEmbedder
) -> None:
    async with running_web(tmp_path, effnet, web={"cors_origins": [ORIGIN]}) as web:
        allowed = await web.http.get("/healthz", headers={"Origin": ORIGIN})
        other = await web.http.get("/healthz", headers={"Origin": "https://evil.example.net"})
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert "access-control-allow-origin" not in other.headers
