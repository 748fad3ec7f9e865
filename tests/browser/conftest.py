"""Real-browser harness: one real app server and one Chromium for the whole browser suite.

The server is `streamlit run app.py` on a free port with its own FUSION_LAB_HOME (a fresh tmp
folder, not the per-test one of tests/conftest.py) and the real MNIST; every test gets a fresh
browser context, i.e. a fresh Streamlit session. When a test fails, the server log's tail is added
to its report and a screenshot of the page is saved in test-artifacts/.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.browser.harness import (
    AppServer,
    ChromiumMissing,
    check_chromium,
    launch_chromium,
    new_page,
    screenshot,
)

HERE = Path(__file__).resolve().parent
ACTIVE = ("queued", "running")
_FAILED = pytest.StashKey[bool]()


def _in_this_folder(item: pytest.Item) -> bool:
    try:
        Path(str(item.path)).resolve().relative_to(HERE)
    except ValueError:
        return False
    return True


def pytest_collection_modifyitems(config, items):
    for item in items:
        if _in_this_folder(item):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not _in_this_folder(item) or not report.failed:
        return
    item.stash[_FAILED] = True
    item.session.stash[_FAILED] = True
    server = item.funcargs.get("app_server") if hasattr(item, "funcargs") else None
    if isinstance(server, AppServer):
        report.sections.append(("streamlit server log (tail)", server.log_tail(8_000)))


@pytest.fixture(scope="session")
def app_server(request, tmp_path_factory):
    """The real app, started once for the browser suite, with its own data home."""
    home = tmp_path_factory.mktemp("browser_fusion_home")
    log = tmp_path_factory.mktemp("browser_server") / "streamlit.log"
    server = AppServer(home, log).start()
    yield server
    server.stop()
    if request.session.stash.get(_FAILED, False):
        text = f"\n===== streamlit server log ({log}) =====\n{server.log_tail()}\n===== end of the log ====="
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        capture = request.config.pluginmanager.get_plugin("capturemanager")
        if reporter is not None and capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.write_line(text)
        else:
            print(text)


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium through Playwright's sync API (never a Playwright-downloaded browser)."""
    from playwright.sync_api import sync_playwright

    missing = None
    try:
        check_chromium()
    except ChromiumMissing as exc:  # fail, never skip: the suite must not pass without a browser
        missing = str(exc)
    if missing:
        pytest.fail(missing, pytrace=False)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture
def app_page(request, chromium):
    """A fresh context and page (a fresh Streamlit session); a screenshot is kept when the test fails."""
    page = new_page(chromium)
    yield page
    if request.node.stash.get(_FAILED, False):
        try:
            screenshot(page, f"FAILED-{request.node.name}")
        except Exception:  # noqa: BLE001 - a failed screenshot must not hide the test's own failure
            pass
    page.context.close()


@pytest.fixture
def run_store(app_server):
    """The server's run store, opened from the test process (read it; the server writes it)."""
    from fusion_core.store import RunStore

    store = RunStore(app_server.store_path)
    yield store
    store.close()


@pytest.fixture
def idle_runner(run_store):
    """Wait (up to 180 s) until the server has no queued or running job, so a test starts its own
    run at once instead of queueing behind a run that an earlier, failed test left behind."""
    deadline = time.monotonic() + 180
    while True:
        busy = [r["id"] for status in ACTIVE for r in run_store.list_runs(status=status)]
        if not busy:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"the server's job runner is still busy with runs {busy} after 180 s")
        time.sleep(0.5)
