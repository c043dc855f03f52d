"""A request still running when graceful shutdown's grace runs out gets the API's JSON answer
(503 with Retry-After), never uvicorn's plain-text 500."""

from __future__ import annotations

import asyncio
from pathlib import Path

from services.embedder.runtimes.engine import InferenceEngine
from tests.support.factories import make_embedder
from tests.support.image_host import HeldImageHost
from tests.support.images import product_jpeg
from tests.support.web_env import running_web
from vrs.settings import ImageSettings


async def test_a_request_cut_off_by_shutdown_gets_a_json_503(
    tmp_path: Path, effnet_engine: InferenceEngine
) -> None:
    host = HeldImageHost(product_jpeg("shirt", 1))  # answers only when released: never here
    await host.start()
    embedder = make_embedder(
        effnet_engine, ImageSettings(http_allowed_hosts=host.allowed_hosts, http_timeout_s=60)
    )
    try:
        async with running_web(tmp_path, embedder, server={"shutdown_grace_s": 1}) as web:
            search = asyncio.create_task(
                web.http.post("/v1/search/image", json={"image": {"uri": host.url()}})
            )
            await asyncio.wait_for(host.requested.wait(), 10)
            await web.vrs.server.stop(1)
            answer = await asyncio.wait_for(search, 30)
    finally:
        host.release.set()
        await host.close()
        await embedder.close()

    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["retry-after"] == "1"
    assert answer.json()["error"]["code"] == "UNAVAILABLE"
