"""The language switch and the Chinese pages in a real Chromium.

Every page of the menu opened at /<page>?lang=zh in a fresh context must show no English: the
visible text (the page's innerText, the SVG text of Plotly charts and Graphviz diagrams, the words
of the formulas) may hold Latin words only from the allow-list of tests/language_support.py.
Icons drawn from Streamlit's icon font are glyphs, not words, and are left out. A screenshot of
each page is kept in test-artifacts/ (lang-zh-<page>.png), to look at the Chinese glyphs.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.harness import new_page, open_page, screenshot, wait_idle
from tests.language_support import context, latin_words
from ui.i18n import STRINGS

pytestmark = pytest.mark.browser

ZH, EN = STRINGS["zh"], STRINGS["en"]
MENU_LINKS = '[data-testid="stSidebar"] a[href]'
SWITCH = ".st-key-lang"

# The text a visitor sees. KaTeX draws a formula from many spans (the letters of 'U h' would read
# 'Uh'), so each formula is read from its LaTeX source instead: only the words inside \text{},
# \mathrm{} and \operatorname{} are words. Material icons are glyphs whose text is their name, and
# Streamlit's status widget and toolbar are its own controls: all three are left out.
VISIBLE_TEXT_JS = r"""
() => {
  const hidden = [];
  const hide = (el) => { hidden.push([el, el.style.display]); el.style.display = 'none'; };
  const added = [];
  for (const k of document.querySelectorAll('.katex')) {
    const tex = (k.querySelector('annotation') || {}).textContent || '';
    const words = [...tex.matchAll(/\\(?:text|mathrm|operatorname)\{([^{}]*)\}/g)].map(m => m[1]);
    const span = document.createElement('span');
    span.textContent = ' ' + words.join(' ') + ' ';
    k.after(span);
    added.push(span);
    hide(k);
  }
  document.querySelectorAll('[data-testid="stIconMaterial"]').forEach(hide);
  // Streamlit's own running indicator and app menu (its "Stop" is not one of the app's words).
  document.querySelectorAll('[data-testid="stStatusWidget"], [data-testid="stToolbar"]').forEach(hide);
  const svg = Array.from(document.querySelectorAll('svg text')).map(e => e.textContent);
  const text = [document.body.innerText, ...svg].join('\n');
  for (const [el, display] of hidden) el.style.display = display;
  for (const span of added) span.remove();
  return text;
}
"""


# While a script runs, Streamlit's status widget offers its "Stop" control (its text need not say
# "Running"); a settled page has no such widget.
IDLE_JS = """() => {
  const w = document.querySelector('[data-testid="stStatusWidget"]');
  return !w || !/running|stop/i.test(w.textContent || '');
}"""


def settle(page, timeout_ms: float = 120_000) -> None:
    """Until the script has finished, twice 1.5 s apart, so charts and diagrams have drawn too."""
    for _ in range(2):
        wait_idle(page, timeout_ms)
        page.wait_for_function(IDLE_JS, timeout=timeout_ms)
        page.wait_for_timeout(1_500)


def visible_text(page) -> str:
    return page.evaluate(VISIBLE_TEXT_JS)


# The font family each text of a chart (Plotly) or diagram (Graphviz) is drawn in.
SVG_FONTS_JS = """() => [...document.querySelectorAll('svg text')]
  .filter(e => (e.textContent || '').trim())
  .map(e => e.getAttribute('font-family') || e.style.fontFamily || getComputedStyle(e).fontFamily)"""
CJK_FONT = "Noto Sans CJK SC"


def menu_paths(page, url: str) -> list[str]:
    """The path of every page in the sidebar's menu ('/' for the default page)."""
    open_page(page, f"{url}/?lang=zh", ready=MENU_LINKS)
    hrefs = page.locator(MENU_LINKS).evaluate_all("els => els.map(a => new URL(a.href).pathname)")
    return list(dict.fromkeys(hrefs))


def glossary_terms() -> set[str]:
    """The glossary shows each term in English beside the Chinese, on purpose."""
    return {
        word
        for key, text in EN.items()
        if key.startswith("glossary.") and key.endswith(".term")
        for word in re.findall(r"[A-Za-z][A-Za-z'-]*", text)
    }


def test_every_page_of_the_menu_is_chinese(app_server, chromium):
    probe = new_page(chromium)
    try:
        paths = menu_paths(probe, app_server.url)
    finally:
        probe.context.close()
    assert len(paths) >= 9, f"the menu lists {paths}"
    left: dict[str, list[str]] = {}
    fonts: set[str] = set()
    for path in paths:
        page = new_page(chromium)  # a fresh context: a fresh session that only has the URL to go by
        try:
            open_page(page, f"{app_server.url}{path}?lang=zh", ready="h1")
            settle(page)
            assert "lang=zh" in page.url, f"{path}: the URL lost ?lang=zh: {page.url}"
            text = visible_text(page)
            allowed = glossary_terms() if path.strip("/") == "glossary" else ()
            words = latin_words(text, allowed)
            if words:
                left[path] = sorted({f"{w}: …{context(text, w)}…" for w in words})
            fonts |= set(page.evaluate(SVG_FONTS_JS))
            screenshot(page, f"lang-zh-{path.strip('/') or 'learn'}")
        finally:
            page.context.close()
    # Charts and diagrams name a font with the Chinese glyphs (fonts-noto-cjk is on this machine).
    assert fonts and all(CJK_FONT in family for family in fonts), fonts
    assert left == {}, "English left on the Chinese pages:\n" + "\n".join(
        f"{path}\n  " + "\n  ".join(words) for path, words in left.items()
    )


def test_the_switch_changes_the_language_and_the_url(app_server, app_page):
    page = app_page
    open_page(page, f"{app_server.url}/train", ready="h1")
    expect(page.locator("h1").first).to_have_text(EN["train.title"])
    page.locator(SWITCH).get_by_text("简体中文").click()
    expect(page.locator("h1").first).to_have_text(ZH["train.title"], timeout=30_000)
    expect(page).to_have_url(re.compile(r"[?&]lang=zh\b"), timeout=30_000)
    settle(page)
    assert ZH["nav.learn"] in page.locator('[data-testid="stSidebar"]').inner_text()

    # The language stays with the visitor from page to page of the menu.
    page.locator(MENU_LINKS).filter(has_text=ZH["nav.glossary"]).first.click()
    expect(page.locator("h1").first).to_have_text(ZH["glossary.title"], timeout=30_000)
    expect(page).to_have_url(re.compile(r"/glossary\?(.*&)?lang=zh\b"), timeout=30_000)
    settle(page)

    page.locator(SWITCH).get_by_text("English").click()
    expect(page.locator("h1").first).to_have_text(EN["glossary.title"], timeout=30_000)
    expect(page).not_to_have_url(re.compile(r"lang="), timeout=30_000)
    assert EN["nav.learn"] in page.locator('[data-testid="stSidebar"]').inner_text()


def test_a_link_with_lang_zh_opens_in_chinese(app_server, app_page):
    page = app_page
    open_page(page, f"{app_server.url}/runs?lang=zh", ready="h1")
    expect(page.locator("h1").first).to_have_text(ZH["runs.title"], timeout=30_000)
    expect(page.locator(SWITCH).get_by_role("radio", name="简体中文")).to_be_checked()
    assert EN["runs.intro"] not in page.locator("body").inner_text()


def test_the_train_page_after_a_tiny_run_is_chinese(app_server, app_page, idle_runner):
    """What only a finished run shows: live curves, results table, confusion matrix, diversity panel."""
    page = app_page
    query = (
        "lang=zh&fusion_type=parallel&num_members=2&hidden_layers=1&hidden_units=32&epochs=1&train_size=2000"
    )
    open_page(page, f"{app_server.url}/train?{query}", ready=".st-key-train_button button")
    train = page.locator(".st-key-train_button button").filter(visible=True).first
    expect(train).to_be_enabled(timeout=60_000)
    train.click()
    expect(page.get_by_text(ZH["results.title"])).to_be_visible(timeout=180_000)
    expect(page.get_by_text(ZH["diversity.title"])).to_be_visible(timeout=60_000)
    settle(page)
    text = visible_text(page)
    assert ZH["results.title"] in text and "lang=zh" in page.url
    assert latin_words(text) == [], [f"{w}: …{context(text, w)}…" for w in latin_words(text)]
    screenshot(page, "lang-zh-train-results", scroll_to=page.get_by_text(ZH["results.title"]))
