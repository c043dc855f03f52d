"""The web page in a real browser: headless Chromium against a real `vrs serve` with its
gateway, efficientnet_lite0's real weights and catalog photos, so the results mean something."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from tests.support.browser import Page, chromium, product_id, shown_price
from tests.support.catalog import Row, read_catalog
from tests.support.web_server import web_vrs

pytestmark = pytest.mark.slow

BUDGET = 40


def pick_products(catalog: list[Row]) -> tuple[Row, list[Row]]:
    """The shirt the shopper loves (the priciest), and a few shirts on both sides of the
    budget with a few products of another category."""
    shirts = sorted((r for r in catalog if r.category == "shirt"), key=lambda r: r.price)
    cheap = [r for r in shirts if r.price <= BUDGET][:4]
    dear = [r for r in shirts if r.price > BUDGET][-4:]
    others = [r for r in catalog if r.category != "shirt"][:4]
    return dear[-1], cheap + dear + others


@pytest.fixture(scope="module")
def picked(sample_catalog: Path) -> tuple[Row, list[Row]]:
    return pick_products(read_catalog(sample_catalog))


@pytest.fixture(scope="module")
def loved_shirt(picked: tuple[Row, list[Row]]) -> Row:
    return picked[0]


@pytest.fixture(scope="module")
def web_url(
    sample_catalog: Path, picked: tuple[Row, list[Row]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with web_vrs(tmp_path_factory.mktemp("web"), sample_catalog, picked[1]) as url:
        yield url


@pytest.fixture
def page(web_url: str, tmp_path: Path) -> Iterator[Page]:
    with chromium(tmp_path / "profile") as driver:
        yield Page(driver, web_url)


def test_an_uploaded_photo_with_a_budget_shows_only_products_within_it(
    page: Page, loved_shirt: Row
) -> None:
    page.upload(loved_shirt.image)
    page.set_budget(BUDGET)

    cards = page.results_within(BUDGET)

    assert all(shown_price(card) <= BUDGET for card in cards)
    assert loved_shirt.product_id not in [product_id(card) for card in cards]
    first = cards[0].find_element(By.CSS_SELECTOR, ".category").text
    assert first == "shirt", "the nearest product within the budget is another shirt"


def test_more_like_this_shows_products_like_the_chosen_one(page: Page, loved_shirt: Row) -> None:
    page.upload(loved_shirt.image)
    page.set_budget(BUDGET)
    chosen = page.results_within(BUDGET)[0]
    chosen_id = product_id(chosen)

    chosen.find_element(By.CSS_SELECTOR, ".more").click()

    page.wait_for(lambda: (page.query_product() == chosen_id and page.settled()) or None)
    query_photo = page.element("query-image").get_attribute("src") or ""
    assert query_photo.endswith(f"/v1/products/{chosen_id}/image")
    cards = page.results_within(BUDGET)
    assert chosen_id not in [product_id(card) for card in cards]
    assert all(shown_price(card) <= BUDGET for card in cards)


def test_a_file_that_is_not_an_image_shows_a_readable_error(page: Page, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list: a blue shirt\n")

    page.upload(notes)

    message = page.wait_for(lambda: page.error() or None)
    assert page.element("error").get_attribute("role") == "alert"
    assert "image" in message.lower(), message
    assert not page.driver.find_elements(By.CSS_SELECTOR, "#grid .card")


def test_the_footer_and_filters_describe_the_catalog(
    page: Page, picked: tuple[Row, list[Row]]
) -> None:
    footer = page.text("catalog-info")

    assert f"{len(picked[1])} products" in footer
    assert "efficientnet_lite0" in footer
    categories = [o.text for o in page.element("category").find_elements(By.TAG_NAME, "option")]
    assert "shirt" in categories
