"""Shared links in a real Chromium: the Train page's URL follows its form, the copy-link box holds
the absolute link, and that link restores the form and the language in a fresh browser context.

Run: .venv/bin/python -m pytest -q -m browser tests/browser/test_browser_share.py
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.harness import new_page, open_page, screenshot, wait_idle

pytestmark = pytest.mark.browser

READY = ".st-key-train_button button"
TYPE = ".st-key-train_fusion_type"


def epochs_slider(page):
    return page.locator(".st-key-train_epochs").get_by_role("slider").first  # by key: its label is translated


def fusion_type_radio(page, index: int):
    """The fusion type's radio input by position: single, parallel, serial, hybrid."""
    return page.locator(f"{TYPE} input[type='radio']").nth(index)


def test_a_shared_link_restored_in_a_fresh_browser_context(app_server, app_page, chromium):
    page = app_page
    open_page(page, f"{app_server.url}/train", ready=READY)
    wait_idle(page)
    expect(page).to_have_url(re.compile(r"[?&]f=single"), timeout=30_000)

    page.locator(TYPE).get_by_text("Parallel", exact=True).click()
    wait_idle(page)
    expect(page).to_have_url(re.compile(r"[?&]f=parallel"), timeout=30_000)
    epochs_slider(page).focus()
    page.keyboard.press("ArrowRight")  # 5 -> 6 epochs
    wait_idle(page)
    expect(page).to_have_url(re.compile(r"[?&]ep=6"), timeout=30_000)
    page.get_by_text("简体中文", exact=True).click()  # the sidebar's language switch
    wait_idle(page)
    expect(page).to_have_url(re.compile(r"[?&]lang=zh"), timeout=30_000)

    page.locator(".st-key-train_share button").first.click()
    code = page.locator("[data-testid='stCode']").filter(has_text="/train?")
    expect(code).to_be_visible(timeout=30_000)
    link = code.inner_text().strip()
    assert link.startswith(f"{app_server.url}/train?"), link
    for part in ("f=parallel", "ep=6", "lang=zh"):
        assert part in link, link
    screenshot(page, "share_link_box")

    fresh = new_page(chromium)  # another browser: no session, no cookies, only the link
    try:
        open_page(fresh, link, ready=READY)
        wait_idle(fresh)
        expect(fusion_type_radio(fresh, 1)).to_be_checked(timeout=30_000)
        expect(epochs_slider(fresh)).to_have_value("6")
        expect(fresh.get_by_role("button", name="分享此设置")).to_be_visible()  # the share button, in Chinese
        assert "ep=6" in fresh.url and "lang=zh" in fresh.url
        screenshot(fresh, "share_link_restored")
    finally:
        fresh.context.close()


def test_a_tampered_link_is_a_note_and_the_rest_applies(app_server, app_page):
    page = app_page
    open_page(page, f"{app_server.url}/train?f=parallel&k=999&ep=3", ready=READY)
    wait_idle(page)
    expect(page.get_by_text(re.compile(r"could not be used.*k=999"))).to_be_visible(timeout=30_000)
    expect(fusion_type_radio(page, 1)).to_be_checked()
    expect(epochs_slider(page)).to_have_value("3")
    expect(page).not_to_have_url(re.compile(r"k=999"))
    assert not page.locator("[data-testid='stException']").count()
