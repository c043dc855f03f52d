"""The web page with products of several photos and variant groups (issue 22), in headless
Chromium against a real `vrs serve` (efficientnet_lite0's real weights, catalog photos): a card
shows the photo that matched, a group's card its other colours within the filters, and
choosing one (mouse or keyboard) shows it in the card. What each card should show is read
from the HTTP API's answer to the same search the page makes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement

from tests.support.browser import Page, chromium, product_id, shown_price
from tests.support.catalog import Row, read_catalog
from tests.support.web_server import web_vrs

pytestmark = pytest.mark.slow

GROUP = "classic-shirt"
# The style's colours: the cheapest is the query, the dearest is over the budget.
VARIANT_PRICES = (15.0, 25.0, 35.0, 90.0)
BUDGET = 40
# The page's defaults: 12 results, one card per variant group.
PAGE_FIELDS = {"k": "12", "collapse": "group"}
HTTP_TIMEOUT_S = 60.0


class Shop(NamedTuple):
    """The catalog indexed: a style in four colours, a shirt photographed twice (the
    second photo not otherwise in the catalog) and single products of two categories."""

    variants: list[Row]
    two_views: Row
    rows: list[Row]

    @property
    def dearest(self) -> Row:
        return self.variants[-1]


def make_shop(catalog: list[Row]) -> Shop:
    shirts = [r for r in catalog if r.category == "shirt"]
    shoes = [r for r in catalog if r.category == "shoes"]
    variants = [
        replace(row, price=price, group_id=GROUP)
        for row, price in zip(shirts[:4], VARIANT_PRICES, strict=True)
    ]
    two_views = replace(shirts[4], more_images=(shirts[5].image,))
    return Shop(variants, two_views, [*variants, two_views, *shirts[6:10], *shoes[:4]])


@pytest.fixture(scope="module")
def shop(sample_catalog: Path) -> Shop:
    return make_shop(read_catalog(sample_catalog))


@pytest.fixture(scope="module")
def web_url(
    sample_catalog: Path, shop: Shop, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with web_vrs(tmp_path_factory.mktemp("web"), sample_catalog, shop.rows) as url:
        yield url


@pytest.fixture
def page(web_url: str, tmp_path: Path) -> Iterator[Page]:
    with chromium(tmp_path / "profile") as driver:
        yield Page(driver, web_url)


def api_matches(web_url: str, photo: Path, **fields: str) -> list[dict[str, Any]]:
    """The API's matches for the search the page makes with this photo (its default fields,
    no region) and these filters."""
    response = httpx.post(
        f"{web_url}/v1/search/image",
        files={"image": (photo.name, photo.read_bytes())},
        data={**PAGE_FIELDS, **fields},
        timeout=HTTP_TIMEOUT_S,
    )
    response.raise_for_status()
    matches: list[dict[str, Any]] = response.json()["matches"]
    return matches


def group_match(matches: list[dict[str, Any]]) -> dict[str, Any]:
    [match] = [m for m in matches if m["group_id"] == GROUP]
    return match


def group_card(cards: list[WebElement]) -> WebElement:
    [card] = [c for c in cards if c.get_attribute("data-group-id") == GROUP]
    return card


def thumbnails(card: WebElement) -> list[WebElement]:
    return list(card.find_elements(By.CSS_SELECTOR, ".variant-list button.variant"))


def thumbnail_ids(card: WebElement) -> list[str]:
    return [product_id(button) for button in thumbnails(card)]


def big_photo(card: WebElement) -> str:
    return str(card.find_element(By.CSS_SELECTOR, ".card-image").get_attribute("src") or "")


def shows(page: Page, card: WebElement, wanted: str) -> None:
    """Waits until the card shows this product."""
    page.wait_for(lambda: product_id(card) == wanted or None)


def test_a_card_shows_the_photo_that_matched(page: Page, web_url: str, shop: Shop) -> None:
    query = shop.two_views.more_images[0]
    [match] = [
        m for m in api_matches(web_url, query) if m["product_id"] == shop.two_views.product_id
    ]
    assert match["image_url"].endswith("/image?photo=1"), "its second photo matched"

    page.upload(query)

    [card] = [c for c in page.results_within(None) if product_id(c) == shop.two_views.product_id]
    assert big_photo(card).endswith(match["image_url"])


def test_a_group_card_offers_the_other_colours_within_the_budget(
    page: Page, web_url: str, shop: Shop
) -> None:
    query = shop.variants[0].image
    page.upload(query)
    card = group_card(page.results_within(None))
    everyone = group_match(api_matches(web_url, query))["variants"]
    assert thumbnail_ids(card) == [v["product_id"] for v in everyone]
    assert shop.dearest.product_id in thumbnail_ids(card)
    assert card.find_element(By.CSS_SELECTOR, ".variants-label").text == "also in 3 colours"

    page.set_budget(BUDGET)

    card = group_card(page.results_within(BUDGET))
    within = group_match(api_matches(web_url, query, max_price=str(BUDGET)))["variants"]
    assert thumbnail_ids(card) == [v["product_id"] for v in within]
    assert shop.dearest.product_id not in thumbnail_ids(card)
    assert card.find_element(By.CSS_SELECTOR, ".variants-label").text == "also in 2 colours"
    for button, variant in zip(thumbnails(card), within, strict=True):
        alt = button.find_element(By.TAG_NAME, "img").get_attribute("alt") or ""
        assert alt.startswith(f"variant {variant['product_id']}, "), alt
        assert f"{variant['price']:.2f}" in alt, alt


def test_choosing_a_colour_shows_it_in_the_card(page: Page, web_url: str, shop: Shop) -> None:
    query = shop.variants[0].image
    match = group_match(api_matches(web_url, query))
    variant = match["variants"][0]
    chosen = next(r for r in shop.rows if r.product_id == variant["product_id"])
    page.upload(query)
    card = group_card(page.results_within(None))
    assert product_id(card) == match["product_id"]

    thumbnails(card)[0].click()

    shows(page, card, variant["product_id"])
    assert card.find_element(By.CSS_SELECTOR, ".product-id").text == variant["product_id"]
    assert shown_price(card) == variant["price"]
    assert card.find_element(By.CSS_SELECTOR, ".stock").text == "in stock"
    assert big_photo(card).endswith(variant["image_url"])
    title = card.find_element(By.CSS_SELECTOR, ".card-title")
    page.wait_for(lambda: title.text == chosen.title or None)
    assert card.find_element(By.CSS_SELECTOR, ".brand").text == chosen.brand
    assert match["product_id"] in thumbnail_ids(card), "the colour it replaced is offered"
    assert variant["product_id"] not in thumbnail_ids(card)


def test_the_keyboard_chooses_a_colour(page: Page, web_url: str, shop: Shop) -> None:
    query = shop.variants[0].image
    match = group_match(api_matches(web_url, query))
    variant = match["variants"][0]
    page.upload(query)
    card = group_card(page.results_within(None))
    button = thumbnails(card)[0]
    assert button.tag_name == "button"

    button.send_keys(Keys.ENTER)

    shows(page, card, variant["product_id"])
    assert page.driver.switch_to.active_element == button, "the focus stays on the thumbnail"
    assert product_id(button) == match["product_id"]

    button.send_keys(Keys.SPACE)

    shows(page, card, match["product_id"])
    assert big_photo(card).endswith(match["image_url"])
    assert product_id(button) == variant["product_id"]


def test_more_like_this_shows_one_card_per_group(page: Page, web_url: str, shop: Shop) -> None:
    chosen = shop.two_views.product_id
    answer = httpx.get(
        f"{web_url}/v1/products/{chosen}/similar", params=PAGE_FIELDS, timeout=HTTP_TIMEOUT_S
    )
    answer.raise_for_status()
    expected = group_match(answer.json()["matches"])
    page.upload(shop.two_views.image)
    [card] = [c for c in page.results_within(None) if product_id(c) == chosen]

    card.find_element(By.CSS_SELECTOR, ".more").click()

    page.wait_for(lambda: (page.query_product() == chosen and page.settled()) or None)
    cards = page.results_within(None)
    assert [c.get_attribute("data-group-id") for c in cards].count(GROUP) == 1
    group = group_card(cards)
    assert product_id(group) == expected["product_id"]
    assert thumbnail_ids(group) == [v["product_id"] for v in expected["variants"]]
