"""Calibration labels over real gRPC and both engines: none without a calibration, every match
(and every over-budget one) labelled by its distance once one is kept, a later one replacing
it, a bad one refused naming the threshold, and the stats saying what is kept."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
import pytest_asyncio

from services.embedder.embedding.embedder import ImageEmbedder
from tests.support.random_catalog import index_random_catalog
from tests.support.search_env import Vrs, VrsStarter
from vrs.store.base import VectorStore
from vrs.v1 import embedder_pb2, search_pb2

LABELS = {
    search_pb2.MATCH_LABEL_CLOSE: "close",
    search_pb2.MATCH_LABEL_SIMILAR: "similar",
    search_pb2.MATCH_LABEL_WEAK: "weak",
}


@pytest_asyncio.fixture
async def vrs(start_vrs: VrsStarter, store: VectorStore, effnet: ImageEmbedder) -> Vrs:
    # Readers re-check the calibration at once: a test sees a new one on its next search.
    running = await start_vrs(store, store={"alias_refresh_s": 0})
    await index_random_catalog(running, effnet)
    return running


async def keep(vrs: Vrs, close: float, similar: float) -> embedder_pb2.Calibration:
    return await vrs.embedder.SetCalibration(
        embedder_pb2.SetCalibrationRequest(
            calibration=embedder_pb2.Calibration(
                close_max_distance=close,
                similar_max_distance=similar,
                close_precision=0.93,
                similar_precision=0.9,
                queries=12,
            )
        )
    )


async def more_like(vrs: Vrs, **fields: Any) -> search_pb2.SearchResponse:
    flt = search_pb2.SearchFilter(**fields.pop("filter", {}))
    request = search_pb2.SearchByProductRequest(product_id="r042", k=10, filter=flt, **fields)
    return await vrs.search.SearchByProduct(request)


def expected(distance: float, close: float, similar: float) -> str:
    return "close" if distance <= close else "similar" if distance <= similar else "weak"


async def test_without_a_calibration_no_label_is_invented(vrs: Vrs) -> None:
    response = await more_like(vrs)
    assert {m.match for m in response.matches} == {search_pb2.MATCH_LABEL_UNSPECIFIED}
    stats = await vrs.embedder.GetStats(embedder_pb2.GetEmbedderStatsRequest())
    assert not stats.HasField("calibration")


async def test_once_kept_every_match_is_labelled_by_its_distance(vrs: Vrs) -> None:
    plain = await more_like(vrs)
    distances = sorted(m.distance for m in plain.matches)
    # Between two matches' distances: thresholds travel as float32.
    close, similar = (distances[1] + distances[2]) / 2, (distances[6] + distances[7]) / 2
    await keep(vrs, close, similar)
    response = await more_like(vrs)
    labels = [LABELS[m.match] for m in response.matches]
    assert labels == [expected(m.distance, close, similar) for m in response.matches]
    assert set(labels) == {"close", "similar", "weak"}


async def test_over_budget_matches_are_labelled_too(vrs: Vrs) -> None:
    await keep(vrs, 0.0, 1e9)
    response = await more_like(vrs, filter={"max_price": 12.0})
    assert response.over_budget
    assert {m.match for m in response.over_budget} == {search_pb2.MATCH_LABEL_SIMILAR}


async def test_a_later_calibration_replaces_the_earlier(vrs: Vrs) -> None:
    await keep(vrs, 1e9, 1e9)
    assert {m.match for m in (await more_like(vrs)).matches} == {search_pb2.MATCH_LABEL_CLOSE}
    await keep(vrs, 0.0, 0.0)
    assert {m.match for m in (await more_like(vrs)).matches} == {search_pb2.MATCH_LABEL_WEAK}


async def test_the_stats_say_what_is_kept_for_which_model(vrs: Vrs, effnet: ImageEmbedder) -> None:
    kept = await keep(vrs, 10.5, 20.25)
    assert kept.model_id == effnet.model_id and kept.calibrated_at
    stats = await vrs.embedder.GetStats(embedder_pb2.GetEmbedderStatsRequest())
    assert stats.calibration == kept
    assert stats.calibration.queries == 12


@pytest.mark.parametrize(
    ("close", "similar", "problem"),
    [
        (5.0, 2.0, "similar_max_distance 2.0 is below close_max_distance 5.0"),
        (-1.0, 2.0, "close_max_distance -1.0 is not a finite number >= 0"),
        (1.0, float("inf"), "similar_max_distance inf is not a finite number >= 0"),
    ],
)
async def test_a_bad_calibration_is_refused_naming_the_threshold(
    vrs: Vrs, close: float, similar: float, problem: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await keep(vrs, close, similar)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert problem in (refused.value.details() or "")
    assert (await more_like(vrs)).matches[0].match == search_pb2.MATCH_LABEL_UNSPECIFIED


async def test_a_request_without_a_calibration_is_refused(vrs: Vrs) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await vrs.embedder.SetCalibration(embedder_pb2.SetCalibrationRequest())
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "no calibration in the request" in (refused.value.details() or "")
