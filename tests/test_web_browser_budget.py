"""The web page's answers a shopper can act on (issue 23), in headless Chromium against a real
`vrs serve` (efficientnet_lite0's real weights, catalog photos): the products a little over
the budget apart from the results, "similar, cheaper", the budget's currency in a catalog
priced in two, how close each match is once the catalog is calibrated, "nothing close" said
plainly, and no serious accessibility violation (axe) on a phone or a desktop. What the page
should show is read from the HTTP API's answer to the same search."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select

from tests.support.accessibility import axe_findings, describe
from tests.support.browser import Page, opened, product_id, shown_price
from tests.support.budget_shop import (
    A_LITTLE_OVER,
    BUDGET,
    BudgetShop,
    api_search,
    api_similar,
    budget_shop,
    ids,
    labelling_all_weak,
    labelling_every_kind,
    set_calibration,
    two_currency_shop,
)
from tests.support.catalog import read_catalog
from tests.support.web_server import WebServer, web_server

pytestmark = pytest.mark.slow

BADGES = {"close": "Close match", "similar": "Similar", "weak": "Weak match"}
DESKTOP = (1280, 900)
PHONE = (390, 844)


@pytest.fixture(scope="module")
def shop(sample_catalog: Path) -> BudgetShop:
    return budget_shop(read_catalog(sample_catalog))


@pytest.fixture(scope="module")
def server(
    sample_catalog: Path, shop: BudgetShop, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebServer]:
    with web_server(tmp_path_factory.mktemp("web"), sample_catalog, shop.rows) as running:
        yield running


@pytest.fixture
def page(server: WebServer, tmp_path: Path) -> Iterator[Page]:
    with opened(server.url, tmp_path / "profile") as shown:
        yield shown


def calibrate_every_kind(server: WebServer, shop: BudgetShop) -> None:
    """A calibration under which the query's unfiltered matches get all three labels."""
    matches = api_search(server.url, shop.query.image)["matches"]
    distances = sorted(m["distance"] for m in matches)
    set_calibration(server.grpc_address, *labelling_every_kind(distances))


def badge(card: WebElement) -> tuple[str, str] | None:
    """The card's label ("match" value, text shown), None when it shows none."""
    found = card.find_elements(By.CSS_SELECTOR, ".badge")
    if not found or not found[0].is_displayed():
        return None
    return str(found[0].get_attribute("data-match")), str(found[0].text)


def expected_badge(match: dict[str, Any]) -> tuple[str, str] | None:
    label = match.get("match")
    return None if label is None else (label, BADGES[label])


def test_products_a_little_over_the_budget_come_apart_with_how_much_over(
    page: Page, server: WebServer, shop: BudgetShop
) -> None:
    answer = api_search(server.url, shop.query.image, max_price=str(BUDGET))
    over = answer["over_budget"]
    assert over, "the shop has products a little over the budget"
    page.upload(shop.query.image)
    page.set_budget(BUDGET)

    cards = page.results_within(BUDGET)

    assert [product_id(c) for c in cards] == ids(answer["matches"])
    section = page.element("over-budget")
    assert section.is_displayed()
    assert section.find_element(By.TAG_NAME, "h2").text == "A little over your budget"
    assert not page.driver.find_elements(By.CSS_SELECTOR, "#grid .over, #grid #over-budget")
    over_cards = page.over_budget_cards()
    assert [product_id(c) for c in over_cards] == ids(over)
    for card, item in zip(over_cards, over, strict=True):
        line = card.find_element(By.CSS_SELECTOR, ".over-by")
        assert line.text == f"+${item['over_by']:.2f} over your budget"
        assert float(line.get_attribute("data-over-by") or "nan") == item["over_by"]
        assert BUDGET < shown_price(card) <= BUDGET * 1.25
    last_card = cards[-1].location["y"]
    assert section.location["y"] > last_card, "under the results"


def test_similar_cheaper_shows_only_products_priced_below_the_chosen_one(
    page: Page, server: WebServer, shop: BudgetShop
) -> None:
    chosen = next(r for r in shop.rows if r.price == max(A_LITTLE_OVER))
    expected = api_similar(server.url, chosen.product_id, cheaper="true")["matches"]
    page.upload(shop.query.image)
    [card] = [c for c in page.results_within(None) if product_id(c) == chosen.product_id]

    card.find_element(By.CSS_SELECTOR, ".cheaper").click()

    def answered() -> bool:
        cheaper = page.query_product() == chosen.product_id and page.query_is_cheaper()
        return cheaper and page.settled()

    page.wait_for(lambda: answered() or None)
    cards = page.results_within(None)
    assert [product_id(c) for c in cards] == ids(expected)
    assert all(shown_price(c) < chosen.price for c in cards)
    assert len(cards) < len(shop.rows) - 1, "the dearer products are left out"


def test_a_one_currency_catalog_asks_for_no_currency(page: Page) -> None:
    assert not page.element("currency-field").is_displayed()
    assert page.element("max-price").is_displayed()


def test_a_two_currency_catalog_asks_the_budgets_currency_and_searches_in_it(
    sample_catalog: Path, tmp_path: Path
) -> None:
    shop = two_currency_shop(read_catalog(sample_catalog))
    (tmp_path / "mixed").mkdir()
    with (
        web_server(tmp_path / "mixed", sample_catalog, shop.rows) as server,
        opened(server.url, tmp_path / "profile") as page,
    ):
        expected = api_search(server.url, shop.query.image, max_price=str(BUDGET), currency="USD")
        select = page.element("currency")
        assert select.is_displayed()
        label = page.driver.find_element(By.CSS_SELECTOR, "label[for='currency']")
        assert label.text == "Currency"
        choices = Select(select)
        assert [o.get_attribute("value") for o in choices.options] == ["EUR", "USD"]

        choices.select_by_value("USD")
        page.set_budget(BUDGET)
        page.upload(shop.query.image)

        cards = page.results_within(BUDGET)
        assert page.error() == ""
        assert [product_id(c) for c in cards] == ids(expected["matches"])
        for card in cards:
            row = shop.row(product_id(card))
            assert row.currency == "USD" and row.price <= BUDGET
            assert shown_price(card) == row.price
        assert "USD" in page.text("max-price-value")


def test_calibrated_matches_carry_the_apis_labels(
    page: Page, server: WebServer, shop: BudgetShop
) -> None:
    calibrate_every_kind(server, shop)
    matches = api_search(server.url, shop.query.image)["matches"]
    assert {m.get("match") for m in matches} == set(BADGES)

    page.upload(shop.query.image)

    cards = page.results_within(None)
    assert [product_id(c) for c in cards] == ids(matches)
    assert [badge(c) for c in cards] == [expected_badge(m) for m in matches]


def test_nothing_close_within_the_budget_is_said_plainly(
    page: Page, server: WebServer, shop: BudgetShop
) -> None:
    budget = {"max_price": str(BUDGET)}
    before = api_search(server.url, shop.query.image, **budget)
    distances = [m["distance"] for m in before["matches"] + before["over_budget"]]
    set_calibration(server.grpc_address, *labelling_all_weak(distances))
    answer = api_search(server.url, shop.query.image, **budget)
    assert answer["matches"][0]["match"] == "weak"
    closest = min(answer["over_budget"], key=lambda m: m["distance"])
    page.upload(shop.query.image)
    page.set_budget(BUDGET)

    cards = page.results_within(BUDGET)

    notice = page.element("notice")
    assert notice.is_displayed()
    assert notice.text.startswith("Nothing close within your budget.")
    assert f"Closest a little over: {closest['product_id']} at ${closest['price']:.2f}." in (
        notice.text
    )
    assert notice.location["y"] < cards[0].location["y"], "above the results"


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_answered_page_has_no_serious_accessibility_violations(
    page: Page, server: WebServer, shop: BudgetShop, size: tuple[int, int]
) -> None:
    calibrate_every_kind(server, shop)
    page.resize(*size)
    page.upload(shop.query.image)
    page.set_budget(BUDGET)
    cards = page.results_within(BUDGET)
    assert page.over_budget_cards(), "products a little over the budget are shown"
    assert any(badge(c) for c in cards), "matches carry labels"

    findings = axe_findings(page.driver)

    print(f"axe at {size[0]}x{size[1]}, not serious:\n{describe(findings.others)}")
    assert not findings.blocking, describe(findings.blocking)
