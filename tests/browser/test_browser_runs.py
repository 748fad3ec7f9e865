"""The Runs page in a real Chromium: what only a browser shows about the "Run to manage" box.

The browser keeps the box's value as its label ("#id · name"); after a rename no option has that
label any more. AppTest does not model this, so the regression lives here.
Run: .venv/bin/python -m pytest tests/browser/test_browser_runs.py -q
"""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.harness import key_button, open_page, wait_idle

pytestmark = pytest.mark.browser

BOX = ".st-key-runs_manage"


def test_after_a_rename_delete_acts_on_the_run_the_box_shows(app_server, app_page, run_store):
    tag = uuid.uuid4().hex[:6]
    config = {"fusion": {"type": "single", "num_members": 1, "rule": "none"}}
    older, middle, newest = (run_store.create_run(config, name=f"{tag} {n}") for n in ("a", "b", "c"))
    for run_id in (older, middle, newest):
        run_store.finish(run_id, "done", results={"fused_accuracy": 0.9})

    page = app_page
    open_page(page, f"{app_server.url}/runs", ready=BOX)
    wait_idle(page)
    option = page.get_by_role("option", name=f"#{middle} · {tag} b")
    for _ in range(3):  # a click during a rerun can be swallowed while the box is redrawn
        page.locator(f"{BOX} input").click()
        try:
            option.wait_for(state="visible", timeout=10_000)
            break
        except Exception:  # noqa: BLE001 - playwright's TimeoutError: open the list again
            page.keyboard.press("Escape")
    option.click()
    wait_idle(page)
    rename = page.locator(".st-key-runs_rename input")
    expect(rename).to_have_value(f"{tag} b", timeout=30_000)
    rename.fill(f"{tag} b renamed")
    rename.press("Enter")
    wait_idle(page)
    key_button(page, "runs_rename_btn").click()
    expect(page.get_by_text(f"Renamed run {middle}")).to_be_visible(timeout=30_000)
    wait_idle(page)
    expect(page.locator(f"{BOX} input")).to_have_value(f"#{middle} · {tag} b renamed", timeout=30_000)

    page.locator(".st-key-runs_delete_confirm label").click()
    wait_idle(page)
    expect(page.locator(f"{BOX} input")).to_have_value(f"#{middle} · {tag} b renamed")
    key_button(page, "runs_delete_btn").click()
    expect(page.get_by_text(f"Deleted run {middle}")).to_be_visible(timeout=30_000)
    assert run_store.get_run(middle) is None
    assert run_store.get_run(newest) is not None and run_store.get_run(older) is not None
