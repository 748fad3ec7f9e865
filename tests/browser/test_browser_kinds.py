"""A mixed fusion (MLP + CNN + LSTM) trained from the Train page, then drawn on, in a real Chromium."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.harness import ONE, draw_stroke, open_page, screenshot, wait_count
from tests.browser.test_browser_app import ACCURACY, RESULTS, train_button

pytestmark = pytest.mark.browser


def test_a_mixed_fusion_trained_on_train_labels_each_members_bars_on_draw(app_server, app_page, idle_runner):
    page = app_page
    open_page(page, f"{app_server.url}/train?preset=mixed&epochs=1", ready=".st-key-train_button button")
    expect(train_button(page)).to_be_enabled(timeout=60_000)
    wait_count(page, ACCURACY, 0, timeout_s=60)
    expect(page.get_by_text("parallel x3 (soft), mlp+cnn+lstm · 1 epochs on 10,000 images")).to_be_visible()
    train_button(page).click()
    expect(page.get_by_text(RESULTS)).to_be_visible(timeout=180_000)

    open_page(page, f"{app_server.url}/draw", ready="canvas.upper-canvas")
    expect(page.get_by_text("Draw a digit in the box")).to_be_visible(timeout=60_000)
    draw_stroke(page, ONE)
    for title in (r"^Member 1 .*· MLP$", r"^Member 2 .*· CNN$", r"^Member 3 .*· LSTM$"):
        expect(page.locator(".gtitle", has_text=re.compile(title))).to_have_count(1, timeout=30_000)
    screenshot(page, "draw_mixed_members")
