"""Browser timings of the real app on a warm server: what a learner waits for after a click.

    python bench/bench_browser.py [N] [PART ...]   # N measurements of each (default 3); PART is
                                                   # one of train, stroke, navigate, fresh, watchers

(a) train_click_to_first_point: click "Train" on /train?preset=quick -> the live accuracy chart
    first draws a point (read from its trace data).                                  (goal: 2 s)
(b) stroke_to_prediction: mouse-up at the end of a stroke on /draw -> the 28x28 preview of the
    prediction is shown or changed.                                                  (goal: 0.5 s)
(c) stop_to_stopped: click Stop during a training -> "Stopped at epoch" shown (as soon as training
    has stopped; the test score follows).                                           (goal: 2 s)
(d) navigate_<page>: click a page's link in the sidebar -> that page usable: its title drawn, no
    element of the previous page left (stale), its script run finished (stApp's
    data-test-script-state is notRunning).                                            (goal: 1.5 s)
(e) fresh_server_first_load: a new server's first visitor opens the app -> Learn usable, counted
    from the moment the server answers its health check.                             (goal: 4 s)
(f) ten_watchers: 10 browsers follow one training (?run=<id>): the live updates each one saw, per
    second, and the time a page needs to become usable in an 11th tab meanwhile.
    (goals: every browser sees new points, >= 2 updates a second; the page usable in 1.5 s)

(a)-(d) are timed inside the page (Date.now() in a capture-phase click / mouseup listener and when
the awaited state is first seen), so Playwright's own round trips are not counted. The server is
started like the browser tests' fixture (tests/browser/harness.py), warmed (one quick training, one
stroke: TensorFlow, MNIST and the model are loaded), then measured. Not a test: the machines are
shared and noisy, so read the medians and their ratios to the goals, not single samples.
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
    chart_points,
    draw_stroke,
    install_point_recorder,
    key_button,
    launch_chromium,
    new_page,
    observed_counts,
    open_page,
    wait_count,
)

PAGES = ("learn", "train", "draw", "runs", "data_size", "overfitting", "robustness", "cost")
GOALS_S = {
    "train_click_to_first_point": 2.0,
    "stroke_to_prediction": 0.5,
    "stop_to_stopped": 2.0,
    **{f"navigate_{name}": 1.5 for name in PAGES},
    "fresh_server_first_load": 4.0,
    "new_tab_usable_with_10_watchers": 1.5,
}
WATCHERS = 10
WATCH_S = 12.0
WATCH_LOAD_S = 180.0  # how long the ten pages get to show the run, all together
WATCH_FORM = "f=parallel&k=3&l=1&u=128&ep=50&n=54000"
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

# When the accuracy chart first drew a point (its trace data, not its title).
_FIRST_POINT_JS = r"""
() => {
  window.__flFirstPoint = null;
  const tick = () => {
    if (window.__flFirstPoint !== null) return;
    if (window.__flChartPoints('Accuracy', true) > 0) { window.__flFirstPoint = Date.now(); return; }
    requestAnimationFrame(tick);
  };
  tick();
}
"""

# When the next page is usable: a title other than `previous` drawn, nothing stale, the script done.
_USABLE_JS = r"""
([previous]) => {
  window.__flUsable = null;
  const tick = () => {
    if (window.__flUsable !== null) return;
    const app = document.querySelector('[data-testid="stApp"]');
    const h1 = document.querySelector('h1');
    const ok = h1 && (h1.textContent || '').trim() !== previous
      && !document.querySelector('[data-stale="true"]')
      && app && app.dataset.testScriptState === 'notRunning';
    if (ok) { window.__flUsable = Date.now(); return; }
    requestAnimationFrame(tick);
  };
  tick();
}
"""

# A page drawn and its script run finished (Streamlit's own marker on the app's root element).
_DONE_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return document.querySelector('h1') && !document.querySelector('[data-stale="true"]')
    && app && app.dataset.testScriptState === 'notRunning';
}"""

# When "Stopped at epoch" first showed.
_STOPPED_JS = r"""
() => {
  window.__flStopped = null;
  const tick = () => {
    if (window.__flStopped !== null) return;
    const shown = (document.body.innerText || '').includes('Stopped at epoch');
    if (shown) { window.__flStopped = Date.now(); return; }
    requestAnimationFrame(tick);
  };
  tick();
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


def open_train(page, url: str, epochs: int, query: str | None = None) -> None:
    """The Train page on the quick preset for `epochs` epochs, or on `query` (a whole form's URL)."""
    query = query or f"preset=quick&epochs={epochs}"
    open_page(page, f"{url}/train?{query}", ready=".st-key-train_button button")
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


def measure_train(browser, url: str) -> tuple[float, float]:
    """(click Train -> first point, click Stop -> stopped shown), both in seconds."""
    page = new_page(browser)
    try:
        open_train(page, url, epochs=20)
        page.evaluate(_INPUT_CLOCK_JS)
        page.evaluate(_FIRST_POINT_JS)
        train_button(page).click()
        first = wait_js(page, "window.__flFirstPoint", timeout_s=120)
        clicked = page.evaluate("() => window.__flClock.click")
        page.wait_for_timeout(1_000)  # a second of training, as a learner would watch before stopping
        page.evaluate(_STOPPED_JS)
        key_button(page, "train_live_stop").click()
        stopped = wait_js(page, "window.__flStopped", timeout_s=120)
        stop_clicked = page.evaluate("() => window.__flClock.click")
        return (first - clicked) / 1000, (stopped - stop_clicked) / 1000
    finally:
        page.context.close()


def measure_navigation(browser, url: str) -> dict[str, float]:
    """Seconds from a click on each page's sidebar link to that page being usable, in one session."""
    page = new_page(browser)
    times = {}
    try:
        open_page(page, url, ready="h1")  # Learn, the default page
        page.evaluate(_INPUT_CLOCK_JS)
        order = [*PAGES[1:], PAGES[0]]  # from Learn through every page and back to Learn
        for name in order:
            previous = page.locator("h1").first.inner_text().strip()
            page.evaluate(_USABLE_JS, [previous])
            href = "" if name == "learn" else name  # st.page_link writes relative links
            link = f'[data-testid="stSidebar"] a[data-testid="stPageLink-NavLink"][href="{href}"]'
            page.locator(link).click()
            usable = wait_js(page, "window.__flUsable", timeout_s=120)
            times[f"navigate_{name}"] = (usable - page.evaluate("() => window.__flClock.click")) / 1000
            page.wait_for_timeout(300)
        return times
    finally:
        page.context.close()


def measure_fresh_server(browser, tmp: Path) -> float:
    """A new server: seconds from its health check answering to Learn being usable for its first visitor."""
    server = AppServer(tmp / "fresh_home", tmp / "fresh.log")
    server.start()
    try:
        healthy = time.time()
        page = new_page(browser)
        try:
            page.goto(server.url, wait_until="commit", timeout=120_000)
            page.wait_for_function(_DONE_JS, timeout=120_000)
            return time.time() - healthy
        finally:
            page.context.close()
    finally:
        server.stop()


def measure_watchers(browser, url: str) -> dict:
    """WATCHERS browsers on one training: the updates each saw, and an 11th tab's page load meanwhile."""
    owner = new_page(browser)
    watchers = []
    try:
        # The quick preset's network on all 54,000 images for 50 epochs, as the Train page writes its
        # whole form into the URL (ui/share.py): minutes of training, stopped below.
        open_train(owner, url, epochs=50, query=WATCH_FORM)
        train_button(owner).click()
        wait_count(owner, "Accuracy", 1, timeout_s=120)
        run_id = int(owner.url.split("run=")[1].split("&")[0])
        watchers, opened = [owner], time.monotonic()
        for _ in range(WATCHERS - 1):  # the nine other browsers load the page at the same time
            page = new_page(browser)
            page.goto(f"{url}/train?run={run_id}", wait_until="commit", timeout=120_000)
            watchers.append(page)
        loads = []  # seconds until each watcher's chart showed a point; None when it never did
        for i, page in enumerate(watchers):
            try:
                left = WATCH_LOAD_S - (time.monotonic() - opened)
                wait_count(page, "Accuracy", 1, timeout_s=max(5.0, left))
                loads.append(round(time.monotonic() - opened, 1))
                install_point_recorder(page, ["Accuracy"], ".st-key-train_live_stop button")
            except AssertionError:
                loads.append(None)
                try:  # what it showed instead, for whoever reads the numbers
                    page.screenshot(path=f"{tempfile.gettempdir()}/bench_watcher_{i}.png", timeout=10_000)
                except Exception as exc:  # noqa: BLE001 - a page too busy to draw a screenshot
                    print(f"ten_watchers: no screenshot of browser {i}: {type(exc).__name__}")
        print(f"ten_watchers: seconds until each browser's chart showed a point: {loads}")
        started = time.monotonic()
        extra = new_page(browser)
        try:
            extra.evaluate("() => 0")
            t0 = time.time()
            open_page(extra, url, ready="h1")  # Learn
            extra.wait_for_function(_DONE_JS, timeout=120_000)
            new_tab = time.time() - t0
        finally:
            extra.context.close()
        time.sleep(max(0.0, WATCH_S - (time.monotonic() - started)))
        watched = time.monotonic() - started
        updates = []
        for page, load in zip(watchers, loads, strict=True):
            if load is None:  # never showed the chart: no updates seen
                updates.append(0)
                continue
            counts = [n for n, running, _ in observed_counts(page, "Accuracy") if running and n]
            updates.append(len(set(counts)) - 1)  # changes seen after the recorder started
        status = owner.locator('[data-testid="stAlert"], [data-testid="stProgress"]').first.inner_text()
        print(f"ten_watchers: run {run_id} at the end of the window: {status[:100]!r}")
        stop = key_button(owner, "train_live_stop")
        if stop.count():  # free the runner for whatever runs next
            stop.click()
            owner.get_by_text("Stopped at epoch").wait_for(timeout=120_000)
        else:
            print(f"ten_watchers: the run was no longer running when watching ended ({status[:80]!r})")
        points = chart_points(owner, "Accuracy")
        return {"updates": updates, "seconds": watched, "new_tab": new_tab, "points": points}
    finally:
        for page in watchers:
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
    parts = set(argv[1:]) or {"train", "stroke", "navigate", "fresh", "watchers"}
    with tempfile.TemporaryDirectory(prefix="fusion_bench_browser_") as tmp:
        server = AppServer(Path(tmp) / "home", Path(tmp) / "streamlit.log")
        started = time.perf_counter()
        server.start()
        try:
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                warm_up(browser, server.url)
                print(f"server started and warmed in {time.perf_counter() - started:.1f} s; {n} samples each")
                if "train" in parts:
                    train = [measure_train(browser, server.url) for _ in range(n)]
                    report("train_click_to_first_point", [first for first, _ in train])
                    report("stop_to_stopped", [stop for _, stop in train])
                if "stroke" in parts:
                    report("stroke_to_prediction", measure_strokes(browser, server.url, n))
                if "navigate" in parts:
                    navigation: dict[str, list[float]] = {}
                    for _ in range(n):
                        for name, seconds in measure_navigation(browser, server.url).items():
                            navigation.setdefault(name, []).append(seconds)
                    for name, samples in navigation.items():
                        report(name, samples)
                if "fresh" in parts:
                    fresh = [measure_fresh_server(browser, Path(tmp) / f"fresh_{i}") for i in range(n)]
                    report("fresh_server_first_load", fresh)
                if "watchers" in parts:
                    watch = measure_watchers(browser, server.url)
                    report("new_tab_usable_with_10_watchers", [watch["new_tab"]])
                    per_s = [u / watch["seconds"] for u in watch["updates"]]
                    print(
                        f"ten_watchers: updates in {watch['seconds']:.1f} s: {watch['updates']} · "
                        f"min {min(per_s):.2f}/s (ratio to the 2/s goal: {min(per_s) / 2:.2f}) · "
                        f"every browser saw new points: {all(u > 0 for u in watch['updates'])} · "
                        f"per browser: {', '.join(f'{r:.2f}' for r in per_s)} /s"
                    )
                browser.close()
        except BaseException:
            print(server.log_tail(4000), file=sys.stderr)
            raise
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
