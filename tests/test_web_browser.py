"""The web page in a real browser: headless Chromium against a real `vrs serve` with its
gateway, efficientnet_lite0's real weights and catalog photos, so the results mean something."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
from PIL import Image
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.actions import interaction
from selenium.webdriver.common.actions.pointer_input import PointerInput
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement

from tests.support.browser import Page, chromium, product_id, shown_price
from tests.support.catalog import Row, read_catalog
from tests.support.web_server import web_vrs
from vrs.evaluation.cutouts import cut_out
from vrs.evaluation.scenes import scene_shot

pytestmark = pytest.mark.slow

BUDGET = 40
# Photo boxes are fractions of a side: what the page draws and sends may differ from what the
# pointer did by a pixel or two of a photo shown about 130 pixels wide.
BOX_SLACK = 0.02


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


# ---------- a box on the query photo (issue 21) ----------


class Box(NamedTuple):
    """A part of a photo as fractions of its width and height (top left corner 0, 0)."""

    x: float
    y: float
    width: float
    height: float

    @classmethod
    def parse(cls, text: str) -> Box:
        x, y, width, height = (float(v) for v in text.split(","))
        return cls(x, y, width, height)

    def close_to(self, other: Box, slack: float = BOX_SLACK) -> bool:
        return all(abs(a - b) <= slack for a, b in zip(self, other, strict=True))


SHOES_HALF = Box(0.06, 0.04, 0.88, 0.42)
SHIRT_HALF = Box(0.06, 0.54, 0.88, 0.42)


@pytest.fixture(scope="module")
def outfit(
    picked: tuple[Row, list[Row]], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Row, Row]:
    """A tall photo (225 x 450, so the page letterboxes it): a pair of shoes over the loved
    shirt, both catalog products; with the shoes and the shirt."""
    shirt = picked[0]
    shoes = next(r for r in picked[1] if r.category == "shoes")
    canvas = Image.new("RGB", (225, 450), "white")
    for row, top in ((shoes, 0), (shirt, 225)):
        with Image.open(row.image) as photo:
            canvas.paste(photo.convert("RGB").resize((225, 225)), (0, top))
    path = tmp_path_factory.mktemp("outfit") / "outfit.png"
    canvas.save(path)
    return path, shoes, shirt


@pytest.fixture(scope="module")
def shirt_in_a_scene(
    picked: tuple[Row, list[Row]], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The loved shirt cut out, small and off-centre in a cluttered scene (no distortion)."""
    with Image.open(picked[0].image) as photo:
        main = cut_out(photo.convert("RGB"))
    shot = scene_shot(main, [], np.random.default_rng(5), mix=())
    path = tmp_path_factory.mktemp("scene") / "scene.jpg"
    path.write_bytes(shot.data)
    return path


def answered(page: Page, *sources: str) -> str:
    """The region source of the answer shown, once the page shows one of these and no search
    is in flight."""

    def ready() -> str | None:
        source = page.element("query").get_attribute("data-region-source") or ""
        return source if source in sources and page.settled() else None

    return page.wait_for(ready)


def photo_area(page: Page) -> Box:
    """Where the photo's pixels are on screen (viewport pixels): the <img> box, less the
    letterbox object-fit: contain leaves around a photo of another shape."""
    img = page.element("query-image")
    left, top, width, height, natural_w, natural_h = page.driver.execute_script(
        "const r = arguments[0].getBoundingClientRect();"
        "return [r.left, r.top, r.width, r.height, arguments[0].naturalWidth,"
        " arguments[0].naturalHeight];",
        img,
    )
    scale = min(width / natural_w, height / natural_h)
    shown_w, shown_h = natural_w * scale, natural_h * scale
    return Box(left + (width - shown_w) / 2, top + (height - shown_h) / 2, shown_w, shown_h)


def drawn_box(page: Page, element: WebElement) -> Box:
    """An element drawn on the photo, as fractions of the photo."""
    area = photo_area(page)
    left, top, width, height = page.driver.execute_script(
        "const r = arguments[0].getBoundingClientRect();return [r.left, r.top, r.width, r.height];",
        element,
    )
    return Box(
        (left - area.x) / area.width,
        (top - area.y) / area.height,
        width / area.width,
        height / area.height,
    )


def on_screen(page: Page, x: float, y: float) -> tuple[int, int]:
    """A point of the photo (fractions) in viewport pixels."""
    area = photo_area(page)
    return round(area.x + x * area.width), round(area.y + y * area.height)


def drag_with_mouse(page: Page, box: Box, actions: ActionChains | None = None) -> None:
    """Presses the mouse on the box's top left corner, drags to its bottom right, lets go."""
    img = page.element("query-image")
    page.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", img)
    left, top, width, height = page.driver.execute_script(
        "const r = arguments[0].getBoundingClientRect();return [r.left, r.top, r.width, r.height];",
        img,
    )
    # ActionChains offsets count from the element's centre.
    centre_x, centre_y = int(left + width / 2), int(top + height / 2)
    start = on_screen(page, box.x, box.y)
    end = on_screen(page, box.x + box.width, box.y + box.height)
    middle = ((start[0] + end[0]) // 2, (start[1] + end[1]) // 2)
    (
        (actions or ActionChains(page.driver))
        .move_to_element_with_offset(img, start[0] - centre_x, start[1] - centre_y)
        .click_and_hold()
        .move_by_offset(middle[0] - start[0], middle[1] - start[1])
        .move_by_offset(end[0] - middle[0], end[1] - middle[1])
        .release()
        .perform()
    )


def drag_with_finger(page: Page, box: Box) -> None:
    """The same drag with a touch pointer (pointer events of pointerType "touch")."""
    page.driver.execute_script(
        "window.pointerTypes = [];"
        "addEventListener('pointerdown', (e) => pointerTypes.push(e.pointerType), true);"
    )
    finger = PointerInput(interaction.POINTER_TOUCH, "finger")  # type: ignore[no-untyped-call]
    drag_with_mouse(page, box, ActionChains(page.driver, devices=[finger]))
    assert page.driver.execute_script("return pointerTypes") == ["touch"]


def used_box(page: Page) -> Box:
    return Box.parse(page.element("query").get_attribute("data-region") or "")


def top_category(page: Page) -> str:
    cards = page.wait_for(lambda: page.driver.find_elements(By.CSS_SELECTOR, "#grid .card"))
    return str(cards[0].find_element(By.CSS_SELECTOR, ".category").text)


def test_a_box_dragged_over_the_photo_searches_on_that_part(
    page: Page, outfit: tuple[Path, Row, Row], tmp_path: Path
) -> None:
    photo, _, _ = outfit
    page.upload(photo)
    answered(page, "found", "whole")

    drag_with_mouse(page, SHIRT_HALF)

    assert answered(page, "given") == "given"
    assert used_box(page).close_to(SHIRT_HALF), used_box(page)
    drawn = page.element("region-used")
    assert drawn.is_displayed() and "given" in (drawn.get_attribute("class") or "")
    assert drawn_box(page, drawn).close_to(SHIRT_HALF), drawn_box(page, drawn)
    assert top_category(page) == "shirt"
    assert page.element("region-clear").is_displayed()
    page.driver.save_screenshot(str(tmp_path / "region.png"))

    drag_with_mouse(page, SHOES_HALF)

    answered(page, "given")
    assert used_box(page).close_to(SHOES_HALF), used_box(page)
    assert top_category(page) == "shoes", "the results follow the box"

    page.set_budget(BUDGET)

    assert all(shown_price(card) <= BUDGET for card in page.results_within(BUDGET))
    assert answered(page, "given") == "given", "filters search the same box again"
    assert used_box(page).close_to(SHOES_HALF), used_box(page)


def test_a_tiny_drag_is_a_click_not_a_box(page: Page, outfit: tuple[Path, Row, Row]) -> None:
    photo, _, _ = outfit
    page.upload(photo)
    before = answered(page, "found", "whole")

    drag_with_mouse(page, Box(0.5, 0.5, 0.01, 0.005))

    assert page.settled()
    assert page.element("query").get_attribute("data-region-source") == before
    assert not page.element("region-draft").is_displayed()
    assert not page.element("region-clear").is_displayed()


def test_the_keyboard_selects_a_region_and_searches_on_it(
    page: Page, outfit: tuple[Path, Row, Row]
) -> None:
    photo, _, _ = outfit
    page.upload(photo)
    answered(page, "found", "whole")
    select = page.element("region-select")
    assert "arrow keys" in page.text("region-help")
    assert select.get_attribute("aria-describedby") == "region-help"

    select.send_keys(Keys.ENTER)
    draft = page.driver.switch_to.active_element
    assert draft.get_attribute("id") == "region-draft", "the box takes the focus"
    assert draft.is_displayed()
    assert "region-help" in (draft.get_attribute("aria-describedby") or "")
    assert draft.get_attribute("aria-label")
    draft.send_keys(Keys.ESCAPE)
    assert not draft.is_displayed(), "Escape cancels the box"
    assert page.driver.switch_to.active_element.get_attribute("id") == "region-select"
    assert page.element("query").get_attribute("data-region-source") in ("found", "whole")

    select.send_keys(Keys.ENTER)
    draft = page.driver.switch_to.active_element
    # To the top left corner, the smallest box, then the bottom half of the photo.
    draft.send_keys(Keys.ARROW_LEFT * 50 + Keys.ARROW_UP * 50)
    draft.send_keys(Keys.SHIFT + Keys.ARROW_LEFT * 50 + Keys.ARROW_UP * 50)
    assert Box.parse(draft.get_attribute("data-region") or "").close_to(Box(0, 0, 0.04, 0.04), 1e-3)
    draft.send_keys(Keys.SHIFT + Keys.ARROW_RIGHT * 48 + Keys.ARROW_DOWN * 23)
    draft.send_keys(Keys.ARROW_DOWN * 25)
    assert Box.parse(draft.get_attribute("data-region") or "").close_to(Box(0, 0.5, 1, 0.5), 1e-3)
    assert "50% to 100% down" in page.text("region-position")
    draft.send_keys(Keys.ENTER)

    answered(page, "given")
    assert used_box(page).close_to(Box(0, 0.5, 1, 0.5), 1e-3)
    assert top_category(page) == "shirt"
    assert "part you selected" in page.text("status")
    assert page.driver.switch_to.active_element.get_attribute("id") == "region-select"


def test_clear_region_searches_on_the_item_found_again(
    page: Page, outfit: tuple[Path, Row, Row]
) -> None:
    photo, _, _ = outfit
    page.upload(photo)
    answered(page, "found", "whole")
    drag_with_finger(page, SHOES_HALF)
    answered(page, "given")
    assert used_box(page).close_to(SHOES_HALF), used_box(page)

    page.element("region-clear").click()

    source = answered(page, "found", "whole")
    assert not page.element("region-clear").is_displayed()
    drawn = page.element("region-used")
    if source == "whole":
        assert not drawn.is_displayed()
    else:
        assert "found" in (drawn.get_attribute("class") or "")
    # Filters keep searching without a box.
    page.set_budget(BUDGET)
    page.results_within(BUDGET)
    assert answered(page, "found", "whole") == source


def test_a_photo_without_a_box_shows_the_item_found(
    page: Page, shirt_in_a_scene: Path, tmp_path: Path
) -> None:
    page.upload(shirt_in_a_scene)

    assert answered(page, "found", "whole") == "found", "vrs serve finds the main item"
    drawn = page.element("region-used")
    assert drawn.is_displayed()
    assert drawn.get_attribute("data-source") == "found"
    assert drawn_box(page, drawn).close_to(used_box(page)), "drawn where the answer says"
    assert "item found" in page.text("region-caption")
    assert "item found" in page.text("status")
    page.driver.save_screenshot(str(tmp_path / "found.png"))


def test_more_like_this_offers_no_box(page: Page, loved_shirt: Row) -> None:
    page.upload(loved_shirt.image)
    answered(page, "found", "whole")
    page.driver.find_element(By.CSS_SELECTOR, "#grid .card .more").click()

    page.wait_for(lambda: (page.query_product() and page.settled()) or None)
    assert not page.element("region-tools").is_displayed()
    assert not page.element("region-used").is_displayed()
