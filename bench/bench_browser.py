"""Browser timings of the real app on a warm server: what a learner waits for after a click.

    python bench/bench_browser.py [N]     # N measurements of each (default 3)

(a) train_click_to_first_point: click "Train" on /train?preset=quick -> the live accuracy chart's
    title first shows a point count above 0.                                         (goal: 2 s)
(b) stroke_to_prediction: mouse-up at the end of a stroke on /draw -> the 28x28 preview of the
    prediction is shown or changed.                                                  (goal: 0.5 s)

Both are timed inside the page (Date.now() in a capture-phase click / mouseup listener and in a
MutationObserver), so Playwright's own round trips are not counted. The server is started like the
browser tests' fixture (tests/browser/harness.py), warmed (one quick training, one stroke: TensorFlow,
MNIST and the model are loaded), then measured. Not a test: the machines are shared and noisy, so
read the medians and their ratios to the goals, not single samples.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.browser.harness import (  # noqa: E402
    ONE,
    AppServer,
    draw_stroke,
    key_button,
    launch_chromium,
    new_page,
    open_page,
    wait_count,
)

GOALS_S = {"train_click_to_first_point": 2.0, "stroke_to_prediction": 0.5}
ACCURACY = "Accuracy"
RESULTS = "Results on the 10,000 test images"
PREVIEW_CAPTION = "What the model sees"
STROKES = [
    [(0.3, 0.2), (0.7, 0.2)],  # a bar across the top
    [(0.5, 0.5), (0.25, 0.85)],  # a slanted leg
    [(0.2, 0.55), (0.8, 0.55)],  # a bar across the middle
]

# Time of the last click / mouse-up anywhere in the page (capture phase: before any handler).
_INPUT_CLOCK_JS = r"""
() => {
  if (window.__flClock) return;
  window.__flClock = {click: null, mouseup: null};
  window.addEventListener('click', () => { window.__flClock.click = Date.now(); }, true);
  window.addEventListener('mouseup', () => { window.__flClock.mouseup = Date.now(); }, true);
}
"""

# When the accuracy chart first showed more than 0 points.
_FIRST_POINT_JS = r"""
() => {
  window.__flFirstPoint = null;
  const scan = () => {
    if (window.__flFirstPoint !== null) return;
    for (const el of document.querySelectorAll('.gtitle')) {
      if (el.closest('[data-stale="true"]')) continue;
      const m = /^Accuracy\s*·\s*([\d,]+)\s+points?/.exec((el.textContent || '').trim());
      if (m && parseInt(m[1].replace(/,/g, ''), 10) > 0) { window.__flFirstPoint = Date.now(); return; }
    }
  };
  new MutationObserver(scan).observe(document.body, {subtree: true, childList: true, characterData: true});
  scan();
}
"""

# Every change of the prediction's 28x28 preview (its image source), with the time it was seen.
_PREVIEW_JS = r"""
([caption]) => {
  window.__flPreview = [];
  const current = () => {
    for (const el of document.querySelectorAll('[data-testid="stElementContainer"]')) {
      if (el.closest('[data-stale="true"]')) continue;
      if (!(el.textContent || '').includes(caption)) continue;
      const img = el.querySelector('img');
      if (img && img.getAttribute('src')) return img.getAttribute('src');
    }
    return null;
  };
  let last = current();
  const scan = () => {
    const now = current();
    if (now !== last) { last = now; window.__flPreview.push([now, Date.now()]); }
  };
  new MutationObserver(scan).observe(document.body, {subtree: true, childList: true, attributes: true});
}
"""


def train_button(page):
    return page.get_by_role("button", name="Train", exact=True).filter(visible=True).first


def open_train(page, url: str, epochs: int) -> None:
    open_page(page, f"{url}/train?preset=quick&epochs={epochs}", ready=".st-key-train_button button")
    train_button(page).wait_for(state="visible")
    deadline = time.monotonic() + 60
    while not train_button(page).is_enabled():  # the previous run is still being scored
        if time.monotonic() > deadline:
            raise RuntimeError("the Train button stayed disabled for 60 s")
        page.wait_for_timeout(100)
    wait_count(page, ACCURACY, 0, timeout_s=60)  # Plotly is loaded and the empty chart drawn


def wait_js(page, expression: str, timeout_s: float):
    page.wait_for_function(f"() => ({expression}) !== null", timeout=timeout_s * 1000)
    return page.evaluate(f"() => {expression}")


def warm_up(browser, url: str) -> None:
    page = new_page(browser)
    open_train(page, url, epochs=1)
    train_button(page).click()
    page.get_by_text(RESULTS).wait_for(timeout=180_000)
    open_page(page, f"{url}/draw", ready="canvas.upper-canvas")
    page.get_by_text("Draw a digit in the box").wait_for(timeout=60_000)
    draw_stroke(page, ONE)
    page.get_by_text(PREVIEW_CAPTION).first.wait_for(timeout=60_000)
    page.context.close()


def measure_train(browser, url: str) -> float:
    page = new_page(browser)
    try:
        open_train(page, url, epochs=20)
        page.evaluate(_INPUT_CLOCK_JS)
        page.evaluate(_FIRST_POINT_JS)
        train_button(page).click()
        first = wait_js(page, "window.__flFirstPoint", timeout_s=120)
        clicked = page.evaluate("() => window.__flClock.click")
        # Free the runner for the next measurement: stop, and wait until the run is scored.
        key_button(page, "train_live_stop").click()
        page.get_by_text("Stopped at epoch").wait_for(timeout=60_000)
        return (first - clicked) / 1000
    finally:
        page.context.close()


def measure_strokes(browser, url: str, n: int) -> list[float]:
    page = new_page(browser)
    try:
        open_page(page, f"{url}/draw", ready="canvas.upper-canvas")
        page.get_by_text("Draw a digit in the box").wait_for(timeout=60_000)
        page.evaluate(_INPUT_CLOCK_JS)
        page.evaluate(_PREVIEW_JS, [PREVIEW_CAPTION])
        draw_stroke(page, ONE)  # the first stroke shows the preview; the timed ones change it
        page.wait_for_function("() => window.__flPreview.length >= 1", timeout=60_000)
        samples = []
        for i in range(n):
            seen = page.evaluate("() => window.__flPreview.length")
            draw_stroke(page, STROKES[i % len(STROKES)])
            page.wait_for_function(f"() => window.__flPreview.length > {seen}", timeout=60_000)
            changed = page.evaluate(f"() => window.__flPreview[{seen}][1]")
            released = page.evaluate("() => window.__flClock.mouseup")
            samples.append((changed - released) / 1000)
            page.wait_for_timeout(300)  # let the fragment's rerun settle before the next stroke
        return samples
    finally:
        page.context.close()


def report(name: str, samples: list[float]) -> None:
    median = statistics.median(samples)
    goal = GOALS_S[name]
    runs = ", ".join(f"{s:.2f}" for s in samples)
    print(f"{name} median {median:.2f} s (ratio to {goal:g} s goal: {median / goal:.2f}) · samples: {runs}")


def main(argv: list[str]) -> int:
    from playwright.sync_api import sync_playwright

    n = int(argv[0]) if argv else 3
    with tempfile.TemporaryDirectory(prefix="fusion_bench_browser_") as tmp:
        server = AppServer(Path(tmp) / "home", Path(tmp) / "streamlit.log")
        started = time.perf_counter()
        server.start()
        try:
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                warm_up(browser, server.url)
                print(f"server started and warmed in {time.perf_counter() - started:.1f} s; {n} samples each")
                train = [measure_train(browser, server.url) for _ in range(n)]
                strokes = measure_strokes(browser, server.url, n)
                browser.close()
        except BaseException:
            print(server.log_tail(4000), file=sys.stderr)
            raise
        finally:
            server.stop()
    report("train_click_to_first_point", train)
    report("stroke_to_prediction", strokes)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
