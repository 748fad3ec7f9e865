"""The frame every page relies on: the app's pages and the check that a page runs inside app.py.

Both use Streamlit's public navigation API only.
"""

from __future__ import annotations

import streamlit as st

from ui.i18n import t

# -- the frame around every page ---------------------------------------------------------------------

_frame_has_run = False  # True once app.py has run in this server process


def app_pages() -> dict[str, list[st.Page]]:
    """The app's pages by section, as app.py gives them to st.navigation.

    Each url_path is the script's file name, so links written for Streamlit's own pages/ routing
    (/data_size) land on the same page.
    """
    return {
        t("nav.section.explore"): [
            st.Page("pages/learn.py", title=t("nav.learn"), icon="📘", default=True, url_path="learn"),
            st.Page("pages/lesson.py", title=t("nav.lesson"), icon="🧑‍🏫", url_path="lesson"),
            st.Page("pages/train.py", title=t("nav.train"), icon="🏋️", url_path="train"),
            st.Page("pages/draw.py", title=t("nav.draw"), icon="✍️", url_path="draw"),
            st.Page("pages/runs.py", title=t("nav.runs"), icon="🗂️", url_path="runs"),
            st.Page("pages/glossary.py", title=t("nav.glossary"), icon="📖", url_path="glossary"),
        ],
        t("nav.section.labs"): [
            st.Page("pages/data_size.py", title=t("nav.data_size"), icon="📈", url_path="data_size"),
            st.Page("pages/overfitting.py", title=t("nav.overfitting"), icon="🎯", url_path="overfitting"),
            st.Page("pages/robustness.py", title=t("nav.robustness"), icon="🛡️", url_path="robustness"),
            st.Page("pages/cost.py", title=t("nav.cost"), icon="⚖️", url_path="cost"),
        ],
    }


# What a menu link carries to the page it opens, so that a link opened in a new tab (a new session)
# shows what this tab shows: the language, presentation mode, and for Train and Draw the run the
# visitor trained on Train (Draw's default model is that run too).
CARRIED_PARAMS = ("lang", "present")
RUN_PAGES = ("train", "draw")


def link_params(page: st.Page) -> dict[str, str]:
    """The URL parameters of the menu's link to `page`."""
    params = {name: st.query_params[name] for name in CARRIED_PARAMS if name in st.query_params}
    run_id = st.session_state.get("train_run_id")
    if run_id is not None and page.url_path in RUN_PAGES:
        params["run"] = str(run_id)
    return params


def frame_runs() -> None:
    """Called by app.py: from now on every page of this process runs inside the frame."""
    global _frame_has_run
    _frame_has_run = True


def require_frame() -> None:
    """Make sure a page runs inside app.py's frame, also on a fresh server's very first request.

    Until st.navigation has been called once in the server process, Streamlit serves the `pages/`
    folder the old way, so a first visit straight to /train runs pages/train.py alone: no sidebar
    menu, no wide layout. Streamlit's documented rule is that once st.navigation is called the
    pages/ folder is ignored; so a page run alone calls it with the app's pages (the same url
    paths, so this page stays the one asked for) and reruns, and the rerun goes through app.py.
    Each page calls this first; it does nothing once app.py has run in this process.
    """
    if _frame_has_run:
        return
    st.navigation(app_pages(), position="hidden")
    st.rerun()
