"""The Robustness page in a real Chromium: its controls come first, the example grid a moment later.

The grid is predicted in a fragment whose timer only a browser runs (AppTest never fires it), so
that the page is usable before the chosen models are loaded into the prediction process.
Run: .venv/bin/python -m pytest -m browser tests/browser/test_browser_robustness.py -q
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.harness import open_page, wait_idle

pytestmark = pytest.mark.browser

GRID_IMAGES = 10  # one damaged test digit of each class


def done_run(run_store, home, config) -> int:
    """A done run with a saved (untrained) model, as the server's worker would leave it."""
    from fusion_core.models import build_model

    run_id = run_store.create_run(config.to_dict(), name=config.describe())
    path = home / "models" / f"run_{run_id}.keras"
    path.parent.mkdir(parents=True, exist_ok=True)
    build_model(config).save(path)
    run_store.set_model_path(run_id, path)
    run_store.finish(run_id, "done", results={"fused_accuracy": 0.5, "params_total": 1})
    return run_id


def test_the_example_grid_follows_the_controls_without_a_click(app_server, app_page, run_store):
    from fusion_core.config import make_config

    tiny = {"hidden_layers": 1, "hidden_units": 16}
    done_run(run_store, app_server.home, make_config("single", **tiny))
    done_run(run_store, app_server.home, make_config("parallel", 2, "soft", **tiny))

    page = app_page
    open_page(page, f"{app_server.url}/robustness", ready=".st-key-robust_kind")
    grid = page.locator('[data-testid="stImage"]')
    expect(grid).to_have_count(GRID_IMAGES, timeout=60_000)  # drawn by the fragment's own run
    wait_idle(page)
    expect(page.get_by_text("Loading the models")).to_have_count(0)
    expect(page.get_by_text("true 7")).to_be_visible()
    # Once drawn, the fragment stops polling: no script or fragment run starts in the next 2 s.
    page.evaluate(_COUNT_RUNS_JS)
    page.wait_for_timeout(2_000)
    assert page.evaluate("() => window.__flRuns") == 0
    expect(grid).to_have_count(GRID_IMAGES)


# How often the app's script state turns to 'running' (a rerun of the page or of a fragment).
_COUNT_RUNS_JS = """() => {
  window.__flRuns = 0;
  const app = document.querySelector('[data-testid="stApp"]');
  new MutationObserver(() => { if (app.dataset.testScriptState === 'running') window.__flRuns += 1; })
    .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""
