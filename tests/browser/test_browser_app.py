"""The app in a real Chromium, on the real MNIST, with real training in the server's job runner.

Run: .venv/bin/python -m pytest tests/browser -q -x   (needs /usr/bin/chromium: `make browser-deps`)

Each test opens its own Streamlit session. The runner trains one job at a time, so every test that
trains first waits for the runner to be idle (`idle_runner`) and leaves it idle (its run finished or
stopped). Screenshots are written to test-artifacts/.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.browser.harness import (
    ONE,
    AppServer,
    chart_points,
    draw_stroke,
    install_point_recorder,
    key_button,
    not_found_dialog,
    observed_counts,
    open_page,
    screenshot,
    wait_count,
)

pytestmark = pytest.mark.browser

ACCURACY = "Accuracy"  # the live accuracy chart's title
STOP = ".st-key-train_live_stop button"
RESULTS = "Results on the 10,000 test images"
STOPPED = "Stopped at epoch"
SWEEP_TITLE = "Accuracy against training-set size"
DATA_SIZE = "/data_size"  # app.py's url_path for pages/data_size.py: the file name, on purpose


def train_button(page):
    return page.get_by_role("button", name="Train", exact=True).filter(visible=True).first


def open_train(page, url: str, query: str) -> None:
    """The Train page with its URL contract, ready to train: the button is enabled and Plotly has
    drawn the (empty) charts, so the first live update is not lost to Plotly's lazy loading."""
    open_page(page, f"{url}/train?{query}", ready=".st-key-train_button button")
    expect(train_button(page)).to_be_enabled(timeout=60_000)
    wait_count(page, ACCURACY, 0, timeout_s=60)


def run_id_from_url(page) -> int:
    match = re.search(r"[?&]run=(\d+)", page.url)
    assert match, f"the URL does not keep the run id: {page.url}"
    return int(match.group(1))


def wait_running_points(page, at_least: int, timeout_s: float) -> int:
    """Until the accuracy chart shows `at_least` points while the Stop button is still there."""
    deadline = time.monotonic() + timeout_s
    n = None
    while time.monotonic() < deadline:
        n = chart_points(page, ACCURACY)
        if n is not None and n >= at_least and page.locator(STOP).count():
            return n
        page.wait_for_timeout(100)
    raise AssertionError(f"no running chart with >= {at_least} points after {timeout_s:.0f} s (last: {n})")


def stop_run(page) -> None:
    page.locator(STOP).filter(visible=True).first.click()
    expect(page.get_by_text(STOPPED)).to_be_visible(timeout=30_000)


def final_run(run_store, run_id: int, timeout_s: float = 120) -> dict:
    """The run once its status is final. The page says "Stopped at epoch N" as soon as training has
    stopped; the worker then still scores the test set and saves the model before the final status."""
    deadline = time.monotonic() + timeout_s
    while True:
        run = run_store.get_run(run_id)
        if run["status"] not in ("queued", "running") or time.monotonic() > deadline:
            return run
        time.sleep(0.2)


# -- 1. live training -------------------------------------------------------------------------------


def test_train_draws_live_points_then_results(app_server, app_page, idle_runner):
    page = app_page
    # 5 epochs, not 3: the page polls twice a second and 3 epochs of the quick preset train in about
    # 1.5 s here, which left exactly 3 live counts in one run of ten; 5 epochs leave a margin.
    open_train(page, app_server.url, "preset=quick&epochs=5")
    # The URL contract pre-filled the quick preset (3 members of 1x128, 10,000 images) and its override.
    expect(page.get_by_text("parallel x3 (soft), 1x128 relu · 5 epochs on 10,000 images")).to_be_visible()

    install_point_recorder(page, [ACCURACY], STOP)
    started = time.monotonic()
    train_button(page).click()
    expect(page.get_by_text(RESULTS)).to_be_visible(timeout=120_000)
    elapsed = time.monotonic() - started

    seen = observed_counts(page, ACCURACY)
    live = [n for n, running, _ in seen if running and n]
    assert len(set(live)) >= 3, f"expected >= 3 distinct point counts while training, saw {seen}"
    assert live == sorted(live), f"the point count went down while training: {live}"
    final = chart_points(page, ACCURACY)
    assert final is not None and final >= max(live), (final, live)
    run_id = run_id_from_url(page)
    screenshot(page, "train_live_results", scroll_to=page.get_by_text(RESULTS))

    # The menu's Train link carries the run, so the link opened in a new tab (a new session, here a
    # fresh browser context) shows this run's results rather than an empty page.
    href = page.locator('a[data-testid="stPageLink-NavLink"][href^="train"]').first.get_attribute("href")
    assert href and f"run={run_id}" in href, href
    fresh = page.context.browser.new_context()
    try:
        tab = fresh.new_page()
        tab.goto(f"{app_server.url}/{href}")  # the menu's links are relative to the app's root
        expect(tab.get_by_text(RESULTS)).to_be_visible(timeout=60_000)
    finally:
        fresh.close()
    print(f"train: {len(set(live))} live counts {sorted(set(live))}, final {final}, {elapsed:.1f} s")


# -- 2. stop ----------------------------------------------------------------------------------------


def test_stop_ends_the_run_as_stopped(app_server, app_page, idle_runner, run_store):
    page = app_page
    open_train(page, app_server.url, "preset=quick&epochs=20")
    train_button(page).click()
    wait_running_points(page, 1, timeout_s=90)
    run_id = run_id_from_url(page)

    stop_run(page)
    screenshot(page, "train_stopped", scroll_to=page.get_by_text(STOPPED))
    run = final_run(run_store, run_id)
    assert run["status"] == "stopped", run["status"]
    assert 0 < run["results"]["epochs_completed"] < 20, run["results"]["epochs_completed"]


# -- 3. refresh in the middle of a run --------------------------------------------------------------


def test_refresh_mid_run_keeps_following_the_run(app_server, app_page, idle_runner, run_store):
    page = app_page
    # 30 epochs (stopped below, so they cost nothing): long enough that the run is still going after
    # the reload even when the machine is idle and an epoch takes well under a second.
    open_train(page, app_server.url, "preset=quick&epochs=30")
    train_button(page).click()
    wait_running_points(page, 1, timeout_s=90)
    run_id = run_id_from_url(page)

    page.reload(wait_until="domcontentloaded")
    page.wait_for_selector('[data-testid="stApp"]')
    assert f"run={run_id}" in page.url, page.url
    after_reload = wait_running_points(page, 1, timeout_s=60)
    more = wait_running_points(page, after_reload + 1, timeout_s=60)
    assert more > after_reload
    screenshot(page, "train_after_reload", scroll_to=page.locator(STOP))

    stop_run(page)
    assert final_run(run_store, run_id)["status"] == "stopped"


# -- 4. draw a digit --------------------------------------------------------------------------------


def test_draw_a_digit_shows_a_prediction(app_server, app_page, idle_runner):
    page = app_page
    open_page(page, f"{app_server.url}/draw", ready="canvas.upper-canvas, .st-key-quick_train button")
    quick = key_button(page, "quick_train")
    if quick.is_visible():  # no finished run on this server yet: train the one-click model
        quick.click()
        expect(page.get_by_text("The quick fusion is ready")).to_be_visible(timeout=120_000)
    prompt = page.get_by_text("Draw a digit in the box")
    expect(prompt).to_be_visible(timeout=60_000)  # a model is loaded and the canvas is empty

    draw_stroke(page, ONE)
    expect(page.get_by_text("What the model sees (28×28)")).to_be_visible(timeout=30_000)
    # The fusion's probability chart is titled with its verdict; one small chart per member follows.
    verdict = page.locator(".gtitle", has_text=re.compile(r"^(Fusion: \d \(\d+% sure\)|The network says \d)"))
    expect(verdict).to_have_count(1, timeout=30_000)
    expect(page.locator(".gtitle", has_text=re.compile(r"^Member 1"))).to_have_count(1, timeout=30_000)
    screenshot(page, "draw_prediction")
    text = verdict.text_content()
    # A straight vertical stroke, cropped and centred like MNIST, is a clear 1 for any trained model.
    assert re.search(r"\b1\b", text), f"a drawn 1 was read as: {text}"


# -- 5. a lab: data-size sweep ----------------------------------------------------------------------


def set_multiselect(page, key: str, labels: list[str]) -> None:
    """Replace a Streamlit multiselect's choice by `labels` (its options' displayed texts)."""
    box = page.locator(f".st-key-{key}").filter(visible=True).first
    tags = box.locator('[aria-label="Selected values"] [data-tag]')
    box.get_by_role("button", name="Clear all").click()
    expect(tags).to_have_count(0)
    for i, label in enumerate(labels, start=1):
        combo = box.get_by_role("combobox")
        combo.click()
        combo.fill(label)
        page.get_by_role("option", name=label, exact=True).click()
        expect(tags).to_have_count(i)
    page.keyboard.press("Escape")
    for label in labels:
        expect(box.locator(f'[data-tag][aria-label="{label}"]')).to_have_count(1)


def set_slider_to_minimum(page, key: str, minimum: int) -> None:
    """Streamlit's slider is a visually hidden range input under a drawn thumb: focus it, press Home."""
    box = page.locator(f".st-key-{key}").filter(visible=True).first
    box.locator("input[type=range]").focus()
    page.keyboard.press("Home")
    expect(box.get_by_test_id("stSliderThumbValue")).to_have_text(str(minimum))


def test_data_size_sweep_plots_its_points(app_server, app_page, idle_runner):
    page = app_page
    from ui.config_ui import TRAIN_SIZES

    smallest = sorted(TRAIN_SIZES)[:2]  # 100 and 250 images; their labels are the plain numbers
    open_page(page, f"{app_server.url}{DATA_SIZE}", ready=".st-key-sweep_run button")
    wait_count(page, SWEEP_TITLE, 0, timeout_s=60)

    set_multiselect(page, "size_configs", ["single network"])
    set_multiselect(page, "size_sizes", [f"{n:,}" for n in smallest])
    set_slider_to_minimum(page, "size_seeds", 1)
    set_slider_to_minimum(page, "size_epochs", 1)
    expect(page.get_by_text(re.compile(r"^2 points to train"))).to_be_visible()

    install_point_recorder(page, [SWEEP_TITLE], ".st-key-sweep_stop button")
    run = key_button(page, "sweep_run")
    expect(run).to_be_enabled()
    run.click()
    # 2 sizes x (test, training): each point's test accuracy first, its training accuracy after
    wait_count(page, SWEEP_TITLE, 4, timeout_s=150)
    seen = [n for n, _, _ in observed_counts(page, SWEEP_TITLE)]
    # The points arrive one by one and never go backwards, and the chart never goes blank, not even
    # when the page swaps the live chart for the finished one.
    assert seen[0] == 0 and seen[-1] == 4 and None not in seen, observed_counts(page, SWEEP_TITLE)
    drawn = seen[next(i for i, n in enumerate(seen) if n) :]  # from the first point on
    assert drawn == sorted(drawn) and 0 not in drawn, observed_counts(page, SWEEP_TITLE)
    assert "group=sweep-" in page.url, page.url
    screenshot(page, "data_size_sweep", scroll_to=page.locator(".gtitle", has_text=SWEEP_TITLE))


# -- 6. a fresh server's first visitor, straight to a page ------------------------------------------


def test_first_visit_by_direct_link_runs_inside_the_app_frame(app_page, tmp_path):
    """On a fresh server Streamlit treats pages/ as an old-style multipage app until app.py has run
    once: the first visitor following a link to /data_size would get the page alone (no sidebar, no
    wide layout) or a 'Page not found' dialog. ui.frame.require_frame reruns it inside app.py."""
    page = app_page
    with AppServer(tmp_path / "home", tmp_path / "streamlit.log") as fresh:
        open_page(page, f"{fresh.url}{DATA_SIZE}", ready="h1")
        expect(page.locator("h1").first).to_have_text("Data size", timeout=60_000)
        sidebar = page.get_by_test_id("stSidebar")
        expect(sidebar.get_by_text("Fusion Lab", exact=True)).to_be_visible()  # app.py's sidebar
        expect(sidebar.get_by_role("link", name=re.compile("Cost of fusion"))).to_be_visible()
        expect(not_found_dialog(page)).to_have_count(0)
        screenshot(page, "fresh_server_direct_link")


# Records, from the first DOM node on, whether Streamlit's automatic pages/ menu ever showed: its
# links are the file names (app, cost, data size, ...) in [data-testid=stSidebarNav].
AUTOMATIC_MENU_WATCH = """
window.__automaticMenu = [];
new MutationObserver(() => {
  for (const link of document.querySelectorAll('[data-testid="stSidebarNav"] a')) {
    const text = link.textContent.trim();
    if (!window.__automaticMenu.includes(text)) window.__automaticMenu.push(text);
  }
}).observe(document, {childList: true, subtree: true});
"""


def test_fresh_server_first_paint_shows_the_real_menu_only(app_page, tmp_path):
    """The sidebar shows the app's own sections from its first paint, never the automatic pages/
    menu (whose first link, 'app', led to the bare frame script)."""
    page = app_page
    page.add_init_script(AUTOMATIC_MENU_WATCH)
    with AppServer(tmp_path / "home", tmp_path / "streamlit.log") as fresh:
        started = time.monotonic()
        open_page(page, fresh.url, ready='[data-testid="stSidebar"] a')
        first_links = time.monotonic() - started
        sidebar = page.get_by_test_id("stSidebar")
        for section in ("Explore", "Experiment labs"):
            expect(sidebar.get_by_text(section, exact=True)).to_be_visible()
        for title in ("Learn", "Train", "Draw a digit", "Runs", "Data size", "Cost of fusion"):
            expect(sidebar.get_by_role("link", name=re.compile(title))).to_be_visible()
        expect(page.locator("h1").first).to_be_visible(timeout=60_000)  # the Learn page itself
        expect(sidebar.get_by_role("link", name="app", exact=True)).to_have_count(0)
        assert page.evaluate("window.__automaticMenu") == []  # not even for one frame
        print(f"first sidebar link after {first_links:.1f} s on a fresh server")
        screenshot(page, "fresh_server_first_paint")
