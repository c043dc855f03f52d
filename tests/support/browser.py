"""Headless Chromium (Debian's chromium and chromium-driver) driven by Selenium, for page tests.

The driver binary is named explicitly: selenium-manager would try to download one, and the
tests run offline.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar, cast

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Generous for a shared 2-core machine; a page that never settles still fails in bounded time.
WAIT_S = 60.0
T = TypeVar("T")


@contextmanager
def chromium(profile: Path) -> Iterator[webdriver.Chrome]:
    """A headless Chromium with its own profile folder, quit afterwards."""
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not Path(binary).is_file():
            raise RuntimeError(
                f"{binary} is missing: install Debian's chromium and chromium-driver (.ci/run does)"
            )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # the tests may run as root
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        "--lang=en-US",
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()


@contextmanager
def opened(url: str, profile: Path) -> Iterator[Page]:
    """The page at `url` in a headless Chromium of its own (profile: its folder), loaded."""
    with chromium(profile) as driver:
        yield Page(driver, url)


class Page:
    """The vrs page as a user sees it: what they can do and what they can read."""

    def __init__(self, driver: webdriver.Chrome, url: str) -> None:
        self.driver = driver
        driver.get(url)
        # The footer is filled from /v1/catalog: the page has talked to the API once.
        self.wait_for(lambda: "products" in self.text("catalog-info") or None)

    def wait_for(self, condition: Callable[[], T | None]) -> T:
        """condition's first truthy answer; TimeoutException after WAIT_S."""
        found = WebDriverWait(self.driver, WAIT_S, poll_frequency=0.2).until(lambda _: condition())
        return cast(T, found)

    def element(self, element_id: str) -> WebElement:
        return self.driver.find_element(By.ID, element_id)

    def text(self, element_id: str) -> str:
        return str(self.element(element_id).text)

    def upload(self, photo: Path) -> None:
        """Chooses a file with the drop zone's file input, as the file dialog would."""
        self.element("image-file").send_keys(str(photo.resolve()))

    def set_budget(self, price: int) -> None:
        """Moves the budget slider with the keyboard: Home, then one step right per unit."""
        slider = self.element("max-price")
        slider.send_keys(Keys.HOME)
        slider.send_keys(Keys.ARROW_RIGHT * price)

    def settled(self) -> bool:
        """No search in flight."""
        return self.element("results").get_attribute("aria-busy") == "false"

    def results_within(self, price: int | None) -> list[WebElement]:
        """The result cards, once the grid answers a search with this budget (None: any
        price)."""
        budget = "" if price is None else str(price)

        def ready() -> list[WebElement] | None:
            results = self.element("results")
            if not self.settled() or results.get_attribute("data-max-price") != budget:
                return None
            return list(self.driver.find_elements(By.CSS_SELECTOR, "#grid .card")) or None

        return self.wait_for(ready)

    def over_budget_cards(self) -> list[WebElement]:
        """The cards of the products a little over the budget (none: the section is hidden)."""
        return list(self.driver.find_elements(By.CSS_SELECTOR, "#over-grid .card"))

    def query_product(self) -> str:
        return str(self.element("query").get_attribute("data-product-id") or "")

    def query_is_cheaper(self) -> bool:
        """The results answer "similar, cheaper" (not plain more like this)."""
        return self.element("query").get_attribute("data-cheaper") == "true"

    def resize(self, width: int, height: int) -> None:
        """Lays the page out for a viewport this size, as a screen that size would (a phone's
        below 600 pixels wide)."""
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600}
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        self.wait_for(lambda: self.driver.execute_script("return window.innerWidth") == width)

    def error(self) -> str:
        return self.text("error")


def shown_price(card: WebElement) -> float:
    """The price as the card shows it ("$15.70", "1,215.70 USD")."""
    text = str(card.find_element(By.CSS_SELECTOR, ".price").text)
    found = re.search(r"\d[\d,]*(?:\.\d+)?", text)
    if found is None:
        raise AssertionError(f"no price shown on a card: {text!r}")
    return float(found.group().replace(",", ""))


def product_id(card: WebElement) -> str:
    return str(card.get_attribute("data-product-id"))
