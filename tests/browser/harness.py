"""Drive the real app in a real Chromium: shared by tests/browser and bench/bench_browser.py.

- `AppServer`: `streamlit run app.py` on a free port with its own FUSION_LAB_HOME, a log file,
  a health wait, and a stop that terminates then kills.
- `launch_chromium`: Debian's /usr/bin/chromium through Playwright (never `playwright install`).
- page helpers: open a page and wait for Streamlit, read the points each Plotly chart draws from its
  traces (`el.data`; a recorder samples them once per animation frame), draw on the canvas.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
CANVAS = "canvas.upper-canvas"  # streamlit-drawable-canvas's drawing surface
VIEWPORT = {"width": 1400, "height": 1000}
HEALTH_TIMEOUT_S = 60.0


# -- the server -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """One `streamlit run app.py` process; `url` is its root, `home` its FUSION_LAB_HOME."""

    def __init__(self, home: Path, log_path: Path, port: int | None = None):
        self.home = Path(home)
        self.log_path = Path(log_path)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self._log = None

    @property
    def store_path(self) -> Path:
        return self.home / "runs.sqlite"

    def start(self, timeout_s: float = HEALTH_TIMEOUT_S) -> AppServer:
        self.home.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env["FUSION_LAB_HOME"] = str(self.home)
        env["TF_CPP_MIN_LOG_LEVEL"] = "3"
        env["PYTHONUNBUFFERED"] = "1"
        env["FUSION_LAB_SPAWN_WORKERS"] = "1"  # a real server starts its workers (tests/conftest.py: 0)
        cmd = [
            sys.executable, "-m", "streamlit", "run", "app.py",
            "--server.headless", "true",
            "--server.port", str(self.port),
            "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none",
        ]  # fmt: skip
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            cmd, cwd=REPO_ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        try:
            self._wait_healthy(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                raise RuntimeError(
                    f"streamlit exited with code {code} before it was healthy:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as resp:
                    body = resp.read().decode().strip()
                if body == "ok":
                    return
                last = f"answered {body!r}"
            except (urllib.error.URLError, OSError) as exc:
                last = str(exc)
            time.sleep(0.2)
        raise RuntimeError(f"streamlit was not healthy after {timeout_s:.0f} s ({last}):\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, chars: int = 20_000) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"(no log: {exc})"
        return text[-chars:]

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- the browser ----------------------------------------------------------------------------------


class ChromiumMissing(RuntimeError):
    pass


def check_chromium() -> None:
    if not CHROMIUM.exists():
        raise ChromiumMissing(
            f"{CHROMIUM} is missing: the browser tests need Debian's Chromium. Run `make browser-deps` "
            "(never `playwright install`)."
        )


def launch_chromium(playwright):
    check_chromium()
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)


def new_page(browser):
    """A fresh context (a fresh Streamlit session) with the standard viewport."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(30_000)
    return context.new_page()


def screenshot(page, name: str, *, scroll_to=None) -> Path:
    """test-artifacts/<name>.png of the viewport (Streamlit scrolls inside its own container, so a
    full-page shot would not show more): `scroll_to`, a locator, is brought into view first."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    for _ in range(5 if scroll_to is not None else 0):
        try:  # a polling fragment may replace the element while it is being scrolled to
            scroll_to.first.scroll_into_view_if_needed(timeout=2_000)
            break
        except Exception:  # noqa: BLE001 - a screenshot is worth taking even unscrolled
            page.wait_for_timeout(100)
    page.screenshot(path=str(path), full_page=True)
    return path


# -- Streamlit pages ------------------------------------------------------------------------------


def open_page(page, url: str, *, ready: str | None = None, timeout_ms: float = 60_000) -> None:
    """Go to `url`, wait for the app frame and, if given, for the selector `ready` to be visible.

    Fails at once on Streamlit's 'Page not found' dialog: it makes the page behind it inert, so the
    test would otherwise time out later on an unrelated click.
    """
    page.goto(url, wait_until="domcontentloaded", timeout=timeout_ms)
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_ms)
    if ready:
        page.locator(ready).first.wait_for(state="visible", timeout=timeout_ms)
    if not_found_dialog(page).count():
        raise AssertionError(f"Streamlit answered {url} with a 'Page not found' dialog")


def not_found_dialog(page):
    return page.get_by_role("dialog").filter(has_text="Page not found")


def wait_idle(page, timeout_ms: float = 60_000) -> None:
    """Until Streamlit's status widget stops saying the script is running (fragments included)."""
    page.wait_for_function(
        """() => {
            const w = document.querySelector('[data-testid="stStatusWidget"]');
            return !w || !/running/i.test(w.textContent || '');
        }""",
        timeout=timeout_ms,
    )


def key_button(page, key: str):
    """The button of the Streamlit widget with this key (Streamlit gives its container .st-key-<key>)."""
    return page.locator(f".st-key-{key} button").first


# -- Plotly charts: their points, read from the drawn traces ----------------------------------------

# The chart titled `title` (tags stripped; Streamlit bolds titles) and the points it draws now: the
# x values that are not null over all its traces (legend-only traces have none). Stale charts (kept
# faded on the page while a rerun is under way) count: they are what the visitor sees.
_CHART_POINTS_JS = r"""
window.__flChartPoints = (title, skipStale) => {
  for (const el of document.querySelectorAll('.js-plotly-plot')) {
    if (skipStale && el.closest('[data-stale="true"]')) continue;
    const raw = (el.layout && el.layout.title && (el.layout.title.text ?? el.layout.title)) || '';
    if (String(raw).replace(/<[^>]*>/g, '').trim() !== title) continue;
    let n = 0;
    for (const trace of el.data || []) {
      for (const v of trace.x || []) { if (v !== null && v !== undefined) n += 1; }
    }
    return n;
  }
  return null;
};
"""

# Records, once per animation frame, every distinct count of each chart in `titles`:
# window.__flSeen[title] is a list of [count or null, running, ms] where `running` says whether
# `running_selector` was on the page; window.__flFrames counts the frames sampled.
_RECORDER_JS = r"""
([titles, runningSelector]) => {
  window.__flSeen = {};
  window.__flFrames = 0;
  const token = (window.__flRecorder || 0) + 1;
  window.__flRecorder = token;
  const tick = () => {
    if (window.__flRecorder !== token) return;
    window.__flFrames += 1;
    const running = !!document.querySelector(runningSelector);
    for (const title of titles) {
      const n = window.__flChartPoints(title, false);
      const list = window.__flSeen[title] || (window.__flSeen[title] = []);
      const last = list[list.length - 1];
      if (!last || last[0] !== n || last[1] !== running) list.push([n, running, Date.now()]);
    }
    requestAnimationFrame(tick);
  };
  tick();
}
"""


def _ensure_points_js(page) -> None:
    page.evaluate(f"() => {{ {_CHART_POINTS_JS} }}")


def install_point_recorder(page, titles: list[str], running_selector: str = "body.__never__") -> None:
    """Sample the charts titled `titles` on every animation frame (see `observed_counts`)."""
    _ensure_points_js(page)
    page.evaluate(_RECORDER_JS, [list(titles), running_selector])


def observed_counts(page, title: str) -> list[tuple[int | None, bool, float]]:
    """[(points or None when the chart was not on the page, running, epoch ms), ...] in order."""
    raw = page.evaluate("(t) => (window.__flSeen || {})[t] || []", title)
    return [(None if n is None else int(n), bool(running), float(ms)) for n, running, ms in raw]


def chart_points(page, title: str) -> int | None:
    """The points the (current, not stale) chart titled `title` draws now; None when none is drawn."""
    _ensure_points_js(page)
    return page.evaluate("(t) => window.__flChartPoints(t, true)", title)


def chart_traces(page, title: str) -> list[dict]:
    """Code (the trace's `meta`), name, colour, line width and points of each trace of chart `title`."""
    _ensure_points_js(page)
    return page.evaluate(
        """(title) => {
          for (const el of document.querySelectorAll('.js-plotly-plot')) {
            if (el.closest('[data-stale="true"]')) continue;
            const raw = (el.layout && el.layout.title && (el.layout.title.text ?? el.layout.title)) || '';
            if (String(raw).replace(/<[^>]*>/g, '').trim() !== title) continue;
            return (el.data || []).map(tr => ({
              code: tr.meta || null, name: tr.name || null,
              colour: (tr.line && tr.line.color) || null, width: (tr.line && tr.line.width) || null,
              points: (tr.x || []).filter(v => v !== null && v !== undefined).length,
            }));
          }
          return [];
        }""",
        title,
    )


def wait_count(page, title: str, at_least: int, timeout_s: float) -> int:
    """Poll (100 ms) until the chart titled `title` draws at least `at_least` points; return the count."""
    deadline = time.monotonic() + timeout_s
    n = None
    while time.monotonic() < deadline:
        n = chart_points(page, title)
        if n is not None and n >= at_least:
            return n
        page.wait_for_timeout(100)
    raise AssertionError(f"chart {title!r} drew {n} points after {timeout_s:.0f} s, wanted >= {at_least}")


# -- the drawable canvas --------------------------------------------------------------------------


def draw_stroke(page, points: list[tuple[float, float]], *, steps: int = 15, selector: str = CANVAS) -> None:
    """One stroke through `points`, given as fractions (0..1) of the canvas box."""
    canvas = page.locator(selector).first
    canvas.wait_for(state="visible")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box, "the drawing canvas has no bounding box"

    def at(fx: float, fy: float) -> tuple[float, float]:
        return box["x"] + fx * box["width"], box["y"] + fy * box["height"]

    page.mouse.move(*at(*points[0]))
    page.mouse.down()
    for fx, fy in points[1:]:
        page.mouse.move(*at(fx, fy), steps=steps)
    page.mouse.up()


ONE = [(0.5, 0.15), (0.5, 0.85)]
SEVEN = [(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)]
