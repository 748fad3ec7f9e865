"""Presentation mode, for a projector: controls folded away, larger type, the live chart in view.

It is switched on by the sidebar's toggle or by `?present=1` in the URL, and kept in the URL while it
is on (as ui.i18n.sync_language keeps `?lang=`), so a teacher's bookmark opens the lab ready to
project. Only Streamlit's public API is used: app.py collapses the sidebar with
st.set_page_config(initial_sidebar_state=...), the larger type is one <style> element drawn with
st.html (a style-only st.html takes no room on the page), and pages ask `presenting()` which of their
parts to fold with `folded(...)`.

A projector is often 1024x768: in presentation mode the Train page's settings, diagram and formula
fold into closed expanders, so the Train button and the live charts fit that screen without
scrolling (tests/browser/test_browser_present.py measures it).
"""

from __future__ import annotations

import streamlit as st

from ui.i18n import t

PRESENT_PARAM = "present"  # the URL parameter: ?present=1
PRESENT_KEY = "present"  # the session key: the mode itself, kept whichever page is drawn
TOGGLE_KEY = "present_toggle"  # the sidebar toggle's key; its callback writes PRESENT_KEY
_IN_URL = "_present_in_url"  # what this session last wrote into the URL

# Larger type for the back of the room, and less empty space above the page so that the live chart
# fits a 768-pixel-high screen. The selectors are Streamlit's documented data-testid and st-key-*
# class names of elements, nothing from its internals.
PRESENT_CSS = """
<style>
[data-testid="stMainBlockContainer"] { padding-top: 3.25rem; padding-bottom: 2rem; }
[data-testid="stMain"] [data-testid="stMarkdownContainer"] p,
[data-testid="stMain"] [data-testid="stMarkdownContainer"] li { font-size: 1.3rem; line-height: 1.5; }
[data-testid="stMain"] [data-testid="stCaptionContainer"] { font-size: 1.1rem; }
[data-testid="stMain"] h1 { font-size: 3rem; padding-top: 0; }
[data-testid="stMain"] [data-testid="stExpander"] summary p { font-size: 1.25rem; }
[data-testid="stMain"] button p { font-size: 1.2rem; }
</style>
"""


def presenting() -> bool:
    """Whether this visitor's pages are in presentation mode."""
    try:
        return bool(st.session_state.get(PRESENT_KEY, False))
    except Exception:  # outside a Streamlit script run (bare imports, engine tests)
        return False


def sync_present() -> bool:
    """Called once per run by app.py, before set_page_config: take `?present=` into the session and
    keep the URL in step with the toggle. A link with ?present=1 (or 0) opened in this session wins
    over the toggle; otherwise the toggle's value is written into the URL."""
    asked = st.query_params.get(PRESENT_PARAM)
    if PRESENT_KEY not in st.session_state:
        st.session_state[PRESENT_KEY] = asked == "1"
    elif asked in ("0", "1") and asked != st.session_state.get(_IN_URL):
        st.session_state[PRESENT_KEY] = asked == "1"
    on = presenting()
    if on and st.query_params.get(PRESENT_PARAM) != "1":
        st.query_params[PRESENT_PARAM] = "1"
    elif not on and PRESENT_PARAM in st.query_params:
        del st.query_params[PRESENT_PARAM]
    st.session_state[_IN_URL] = "1" if on else "0"
    return on


def sidebar_state() -> str:
    """st.set_page_config's initial_sidebar_state: collapsed while presenting, else Streamlit's own
    rule (collapsed on narrow screens only). A visitor who opens or closes the sidebar by hand keeps
    their choice: the browser remembers it."""
    return "collapsed" if presenting() else "auto"


def _toggled() -> None:
    st.session_state[PRESENT_KEY] = bool(st.session_state[TOGGLE_KEY])


def present_ui() -> None:
    """The sidebar's toggle, and the styles of presentation mode while it is on.

    The mode lives in its own session key, not in the widget's: Streamlit drops a widget's state
    on a run that does not draw it, and a link with ?present= changes the mode without a click."""
    st.session_state[TOGGLE_KEY] = presenting()  # before the widget is drawn, so the two agree
    st.toggle(t("present.toggle"), key=TOGGLE_KEY, on_change=_toggled, help=t("present.toggle.help"))
    if presenting():
        st.html(PRESENT_CSS)


def folded(label: str, *, border: bool = False):
    """A container for controls: a closed expander named `label` while presenting, else a plain
    container (with a border if asked), so a page keeps one layout and folds it for a projector."""
    if presenting():
        return st.expander(label, expanded=False)
    return st.container(border=border)


def result_line(run: dict | None) -> str | None:
    """A finished run's test accuracy (and a fusion's gain over its best member) in one line, which
    presentation mode shows beside the Train button so the result and the live chart share the screen;
    None while there is no finished result."""
    from ui.charts import gain_sentence

    results = (run or {}).get("results") or {}
    if (run or {}).get("status") != "done" or "fused_accuracy" not in results:
        return None
    line = t("present.result", accuracy=100 * results["fused_accuracy"])
    if "gain_over_best_member" in results and "best_member" in results:
        line += " · " + gain_sentence(results)
    return line


def theme_ui() -> None:
    """Where the light/dark switch is. Streamlit has no public call that changes the theme from
    Python; its own switch is the app menu (⋮), which offers System, Light and Dark because
    .streamlit/config.toml defines [theme.light] and [theme.dark]. (st.context.theme could say which
    one is on, but it is only updated on the next rerun after a change, so this line does not.)"""
    st.caption(t("theme.where"), help=t("theme.where.help"))
