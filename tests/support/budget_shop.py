"""Shops for the budget tests of the web page (issue 23): catalog photos with prices set on
both sides of a budget, the HTTP API's answers to the searches the page makes, and a
calibration set over gRPC so matches carry labels."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import grpc
import httpx

from tests.support.catalog import Row
from vrs.v1 import embedder_pb2, embedder_pb2_grpc

BUDGET = 40
# The page's defaults: 12 results, one card per variant group.
PAGE_FIELDS = {"k": "12", "collapse": "group"}
HTTP_TIMEOUT_S = 60.0
RPC_TIMEOUT_S = 60.0

# Shirts within the budget, a little over it (the server's band: up to 25% over), and far
# over it; shoes within it. Fewer than the page's 12 fit the budget.
QUERY_PRICE = 90.0
WITHIN = (20.0, 30.0, 38.0)
A_LITTLE_OVER = (42.0, 45.0, 49.0)
FAR_OVER = (70.0, 80.0)
SHOES = (25.0, 35.0)

# A catalog priced in two currencies: shirts in each, on both sides of the budget.
TWO_CURRENCIES = (
    ("USD", (20.0, 30.0, 38.0, 60.0)),
    ("EUR", (15.0, 25.0, 35.0, 55.0)),
)


class BudgetShop(NamedTuple):
    """The shirt the shopper photographs (dearer than the budget) and every product indexed."""

    query: Row
    rows: list[Row]

    def row(self, product_id: str) -> Row:
        return next(r for r in self.rows if r.product_id == product_id)


def priced(rows: Iterator[Row], prices: Sequence[float], currency: str = "USD") -> list[Row]:
    """The next rows, one per price, at these prices in this currency."""
    return [replace(next(rows), price=price, currency=currency) for price in prices]


def budget_shop(catalog: Sequence[Row]) -> BudgetShop:
    """Shirts on both sides of BUDGET, a few a little over it, and two shoes within it."""
    shirts = iter([r for r in catalog if r.category == "shirt"])
    shoes = iter([r for r in catalog if r.category == "shoes"])
    [query] = priced(shirts, [QUERY_PRICE])
    others = priced(shirts, [*WITHIN, *A_LITTLE_OVER, *FAR_OVER])
    return BudgetShop(query, [query, *others, *priced(shoes, SHOES)])


def two_currency_shop(catalog: Sequence[Row]) -> BudgetShop:
    """Shirts priced in USD and in EUR; the query a dear USD one."""
    shirts = iter([r for r in catalog if r.category == "shirt"])
    [query] = priced(shirts, [QUERY_PRICE])
    others = [r for currency, prices in TWO_CURRENCIES for r in priced(shirts, prices, currency)]
    return BudgetShop(query, [query, *others])


def api_search(url: str, photo: Path, **fields: str) -> dict[str, Any]:
    """The API's answer to the photo search the page makes (its default fields, no region)
    with these filters."""
    response = httpx.post(
        f"{url}/v1/search/image",
        files={"image": (photo.name, photo.read_bytes())},
        data={**PAGE_FIELDS, **fields},
        timeout=HTTP_TIMEOUT_S,
    )
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


def api_similar(url: str, product_id: str, **params: str) -> dict[str, Any]:
    """The API's answer to the more-like-this search the page makes for this product."""
    response = httpx.get(
        f"{url}/v1/products/{product_id}/similar",
        params={**PAGE_FIELDS, **params},
        timeout=HTTP_TIMEOUT_S,
    )
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


def ids(matches: Sequence[dict[str, Any]]) -> list[str]:
    return [str(m["product_id"]) for m in matches]


def set_calibration(grpc_address: str, close_max: float, similar_max: float) -> None:
    """Keeps a calibration with the server's collection: from then on, matches at most
    close_max away are "close", at most similar_max "similar", the others "weak"."""
    calibration = embedder_pb2.Calibration(
        close_max_distance=close_max, similar_max_distance=similar_max
    )
    request = embedder_pb2.SetCalibrationRequest(calibration=calibration)
    with grpc.insecure_channel(grpc_address) as channel:
        embedder = embedder_pb2_grpc.EmbedderServiceStub(channel)
        embedder.SetCalibration(request, timeout=RPC_TIMEOUT_S)


def labelling_every_kind(distances: Sequence[float]) -> tuple[float, float]:
    """Thresholds under which these distances (at least four, sorted) get every label: the
    nearest close, the next two similar, the others weak."""
    if len(distances) < 4:
        raise ValueError(f"need at least four distances, got {len(distances)}")
    return (distances[0] + distances[1]) / 2, (distances[2] + distances[3]) / 2


def labelling_all_weak(distances: Sequence[float]) -> tuple[float, float]:
    """Thresholds under which every one of these distances is weak."""
    nearest = min(distances)
    return nearest / 4, nearest / 2
