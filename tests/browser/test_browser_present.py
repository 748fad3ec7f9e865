"""Presentation mode and the 1024x768 projector in a real Chromium: what only a browser shows.

At 1024x768 with ?present=1 on Train: the sidebar collapsed, the Train button and both live charts
inside the viewport (their bounding boxes), no horizontal overflow in the main block, larger type
than normal mode. With the sidebar open at the same size (normal mode), the drawing canvas, a lab's
run button, its chips and the Train page's parameter count are not clipped. The app menu offers
the light/dark switch the sidebar points to.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.harness import CANVAS, open_page, screenshot

pytestmark = pytest.mark.browser

PROJECTOR = {"width": 1024, "height": 768}
TRAIN_BUTTON = ".st-key-train_button button"
CHARTS = '[data-testid="stMain"] [data-testid="stPlotlyChart"]'
SIDEBAR = '[data-testid="stSidebar"]'

# Whether an element is cut off: text that overflows its own box (an ellipsis), or a box that sticks
# out of an ancestor that clips (overflow other than visible) or out of the viewport. Walks up
# through shadow roots, since some components draw inside one.
_CLIPPED_JS = r"""
(el) => {
  const found = [];
  const r = el.getBoundingClientRect();
  for (const d of [el, ...el.querySelectorAll('*')]) {
    if (d.scrollWidth > d.clientWidth + 1 && getComputedStyle(d).overflowX !== 'visible') {
      found.push(`${d.tagName} text overflows: ${d.scrollWidth} > ${d.clientWidth}`);
    }
  }
  let a = el.parentElement || (el.getRootNode() && el.getRootNode().host);
  while (a) {
    const s = getComputedStyle(a);
    if (s.overflowX !== 'visible') {
      const b = a.getBoundingClientRect();
      if (b.left > r.left + 1 || b.right < r.right - 1) {
        found.push(`${a.tagName}.${String(a.className).slice(0, 40)} clips it: [${b.left}, ${b.right}] ` +
                   `against [${r.left}, ${r.right}]`);
      }
    }
    a = a.parentElement || (a.getRootNode() && a.getRootNode().host);
  }
  if (r.left < -1 || r.right > window.innerWidth + 1) {
    found.push(`outside the viewport: [${r.left}, ${r.right}]`);
  }
  return found;
}
"""


@pytest.fixture
def projector(chromium):
    """A fresh session in a 1024x768 window, the size of a classroom projector."""
    context = chromium.new_context(viewport=PROJECTOR)
    context.set_default_timeout(30_000)
    yield context.new_page()
    context.close()


def in_viewport(box: dict | None) -> bool:
    if not box:
        return False
    right, bottom = box["x"] + box["width"], box["y"] + box["height"]
    inside_x = box["x"] >= 0 and right <= PROJECTOR["width"] + 0.5
    return inside_x and box["y"] >= 0 and bottom <= PROJECTOR["height"] + 0.5


def sidebar_width(page) -> float:
    box = page.locator(SIDEBAR).first.bounding_box()
    return 0.0 if box is None else max(0.0, box["x"] + box["width"])  # the part on the screen


def font_px(page, selector: str) -> float:
    return float(page.locator(selector).first.evaluate("(el) => parseFloat(getComputedStyle(el).fontSize)"))


def clipped(locator) -> list[str]:
    return locator.evaluate(_CLIPPED_JS)


def open_train(page, url: str, query: str = "") -> None:
    open_page(page, f"{url}/train{query}", ready=TRAIN_BUTTON)
    expect(page.locator(CHARTS)).to_have_count(2, timeout=60_000)
    page.wait_for_timeout(1_000)  # the sidebar's collapse is animated


def test_presentation_mode_at_1024x768_has_the_train_button_and_the_charts_in_view(app_server, projector):
    page = projector
    open_train(page, app_server.url)  # normal mode first, to compare the type
    normal_title, normal_button = font_px(page, "[data-testid=stMain] h1"), font_px(page, f"{TRAIN_BUTTON} p")
    assert sidebar_width(page) > 200  # a 1024-pixel screen keeps the sidebar open in normal mode

    open_train(page, app_server.url, "?present=1")
    screenshot(page, "present-train-1024x768")
    assert "present=1" in page.url
    assert sidebar_width(page) < 5, "the sidebar should be collapsed in presentation mode"
    assert in_viewport(page.locator(TRAIN_BUTTON).first.bounding_box())
    charts = page.locator(CHARTS)
    for i in range(2):
        box = charts.nth(i).bounding_box()
        assert in_viewport(box), f"live chart {i} is not inside the 1024x768 viewport: {box}"
    for testid in ("stMain", "stMainBlockContainer"):
        width, client = page.locator(f'[data-testid="{testid}"]').first.evaluate(
            "(el) => [el.scrollWidth, el.clientWidth]"
        )
        assert width <= client, f"{testid} overflows horizontally: {width} > {client}"
    assert font_px(page, "[data-testid=stMain] h1") > normal_title
    assert font_px(page, f"{TRAIN_BUTTON} p") > normal_button
    assert page.get_by_text("Settings", exact=True).is_visible()  # the controls, folded


def test_the_toggle_switches_presentation_mode_and_the_url_follows(app_server, projector):
    page = projector
    open_train(page, app_server.url)
    page.locator(".st-key-present_toggle label").first.click()
    page.wait_for_url(re.compile(r"[?&]present=1"), timeout=30_000)
    expect(page.get_by_text("Settings", exact=True)).to_be_visible(timeout=30_000)
    page.wait_for_timeout(1_000)
    assert sidebar_width(page) < 5

    page.locator('[data-testid="stExpandSidebarButton"]').first.click()  # open it again to switch off
    page.locator(".st-key-present_toggle label").first.click()
    page.wait_for_url(lambda url: "present=" not in url, timeout=30_000)
    expect(page.get_by_text("Settings", exact=True)).to_have_count(0, timeout=30_000)


def test_with_the_sidebar_open_at_1024x768_nothing_is_cut_off(app_server, projector):
    page = projector
    open_page(page, f"{app_server.url}/draw", ready=CANVAS)
    canvas = page.locator(CANVAS).first
    box = canvas.bounding_box()
    assert box and round(box["width"]) == 280, box
    assert clipped(canvas) == []
    screenshot(page, "draw-1024x768")

    open_page(page, f"{app_server.url}/data_size", ready=".st-key-sweep_run button")
    assert clipped(page.locator(".st-key-sweep_run button").first) == []
    for key in ("size_configs", "size_sizes"):
        chips = page.locator(f".st-key-{key} [data-tag]")
        expect(chips.nth(1)).to_be_visible(timeout=30_000)  # the default plan has 2 and 8 of them
        for i in range(chips.count()):
            assert clipped(chips.nth(i)) == [], f"{key} chip {i} is cut off"
    screenshot(page, "data-size-1024x768", scroll_to=page.locator(".st-key-sweep_run"))

    open_train(page, app_server.url)
    value = page.locator('[data-testid="stMetricValue"]').first
    value.scroll_into_view_if_needed()
    assert re.fullmatch(r"[\d,]+", value.inner_text().strip()), value.inner_text()
    assert clipped(value) == []


def test_the_app_menu_switches_between_light_and_dark(app_server, projector):
    page = projector
    open_page(page, f"{app_server.url}/lesson", ready='[data-testid="stMainMenu"] button')
    page.locator('[data-testid="stMainMenu"] button').click()
    for theme in ("System", "Light", "Dark"):
        expect(page.locator(f'[data-testid="stMainMenuItem-theme-{theme}"]')).to_be_visible()
    page.locator('[data-testid="stMainMenuItem-theme-Dark"]').click()
    background = "getComputedStyle(document.querySelector('[data-testid=stApp]')).backgroundColor"

    def brightness() -> float:
        r, g, b = (int(v) for v in re.findall(r"\d+", page.evaluate(background))[:3])
        return (r + g + b) / 3

    page.wait_for_function(f"() => {background} !== 'rgb(255, 255, 255)'", timeout=10_000)
    assert brightness() < 80
    page.reload()
    page.wait_for_selector('[data-testid="stApp"]')
    page.wait_for_timeout(2_000)
    assert brightness() < 80, "the browser should remember the dark theme"


def test_a_lesson_step_opens_its_page_with_its_experiment_ready(app_server, projector):
    page = projector
    open_page(page, f"{app_server.url}/lesson", ready=".st-key-lesson_step_article a")
    page.locator(".st-key-lesson_step_article a").first.click()
    page.wait_for_url(re.compile(r"/train\?"), timeout=30_000)  # the preset turns into form parameters
    # The article's network, cut to the lesson's minute, is what the Train button will start.
    expect(page.get_by_text("2 epochs on 20,000 images", exact=False)).to_be_visible(timeout=60_000)
    # Dense 512, 512, 10: the article's network, by its parameter count.
    expect(page.locator('[data-testid="stMetricValue"]').first).to_have_text("669,706", timeout=60_000)

    open_page(page, f"{app_server.url}/lesson", ready=".st-key-lesson_step_data_size a")
    page.locator(".st-key-lesson_step_data_size a").first.click()
    page.wait_for_url(re.compile(r"/data_size"), timeout=30_000)
    chips = page.locator(".st-key-size_sizes [data-tag]")
    expect(chips).to_have_count(2, timeout=60_000)  # the '1 minute' plan: 500 and 2,000 images
    assert [c.strip() for c in chips.all_inner_texts()] == ["500", "2k"]
    expect(page.get_by_text("8 points to train", exact=False)).to_be_visible()
