"""Calibration labels over the HTTP API: absent without a calibration, each match's "match"
by its distance once one is kept."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.web_env import MATCH_FIELDS, WebVrs, search_upload, toy_web
from vrs.v1 import embedder_pb2


@pytest_asyncio.fixture
async def web(tmp_path: Path, photo_embedder: ImageEmbedder) -> AsyncIterator[WebVrs]:
    async with toy_web(tmp_path, photo_embedder) as running:
        yield running


async def test_without_a_calibration_matches_have_no_match_field(web: WebVrs) -> None:
    body = (await search_upload(web, k="5")).json()
    assert all(set(m) == MATCH_FIELDS for m in body["matches"])


async def test_with_a_calibration_each_match_says_how_close_it_is(web: WebVrs) -> None:
    distances = sorted(m["distance"] for m in (await search_upload(web, k="8")).json()["matches"])
    close, similar = (distances[0] + distances[1]) / 2, (distances[4] + distances[5]) / 2
    calibration = embedder_pb2.Calibration(close_max_distance=close, similar_max_distance=similar)
    await web.vrs.embedder.SetCalibration(
        embedder_pb2.SetCalibrationRequest(calibration=calibration)
    )
    body = (await search_upload(web, k="8")).json()
    for m in body["matches"]:
        word = (
            "close" if m["distance"] <= close else "similar" if m["distance"] <= similar else "weak"
        )
        assert m["match"] == word
    assert [m["match"] for m in body["matches"]].count("close") == 1
