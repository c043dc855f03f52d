"""Every call a server answers moves its request counter, latency histogram and in-flight gauge
by exactly what the call did, seen by scraping /metrics over HTTP."""

from __future__ import annotations

import grpc
import pytest_asyncio

from tests.support.auth_env import status_of
from tests.support.cache_env import image_query, upsert
from tests.support.images import product_jpeg
from tests.support.metrics_scrape import METRICS_ON, delta, scrape
from tests.support.search_env import Vrs, VrsStarter
from vrs.store.base import VectorStore

SEARCH = "vrs.v1.SearchService"
PHOTO = product_jpeg("shoe", seed=41)


@pytest_asyncio.fixture
async def vrs(start_vrs: VrsStarter, memory_store: VectorStore) -> Vrs:
    running = await start_vrs(memory_store, obs=METRICS_ON)
    await upsert(running, "shoe-1", "shoe", PHOTO)
    return running


def metrics_port(vrs: Vrs) -> int:
    assert vrs.server.metrics_port is not None, "metrics are on"
    return vrs.server.metrics_port


async def test_requests_are_counted_by_method_and_status_code(vrs: Vrs) -> None:
    before = await scrape(metrics_port(vrs))
    for _ in range(3):
        await vrs.search.SearchByImage(image_query(PHOTO))
    refused = await status_of(vrs.search.SearchByImage(image_query(PHOTO, k=1000)))
    assert refused.code() is grpc.StatusCode.INVALID_ARGUMENT
    after = await scrape(metrics_port(vrs))

    requests = "vrs_grpc_server_requests_total"
    by_image = {"service": SEARCH, "method": "SearchByImage"}
    assert delta(before, after, requests, **by_image, code="OK") == 3
    assert delta(before, after, requests, **by_image, code="INVALID_ARGUMENT") == 1
    assert delta(before, after, requests, service=SEARCH, method="SearchByProduct") == 0


async def test_every_call_is_timed_once(vrs: Vrs) -> None:
    before = await scrape(metrics_port(vrs))
    for _ in range(2):
        await vrs.search.SearchByImage(image_query(PHOTO))
    await status_of(vrs.search.SearchByImage(image_query(PHOTO, k=0)))
    after = await scrape(metrics_port(vrs))

    by_image = {"service": SEARCH, "method": "SearchByImage"}
    duration = "vrs_grpc_server_request_duration_seconds"
    assert delta(before, after, f"{duration}_count", **by_image) == 3
    assert delta(before, after, f"{duration}_sum", **by_image) > 0
    assert after.types[duration] == "histogram"


async def test_no_call_is_in_flight_once_all_have_answered(vrs: Vrs) -> None:
    await vrs.search.SearchByImage(image_query(PHOTO))
    after = await scrape(metrics_port(vrs))
    assert after.has("vrs_grpc_server_in_flight_requests")
    assert after.value("vrs_grpc_server_in_flight_requests") == 0
