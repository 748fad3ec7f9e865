"""The frame check every page runs first (`require_frame`).

It touches one Streamlit class flag and does nothing if that moves in a later release.
"""

from __future__ import annotations

import streamlit as st

_frame_checked = False


def require_frame() -> None:
    """Make sure a page runs inside app.py's frame, also on a fresh server's very first request.

    Until app.py has called st.navigation once, Streamlit treats the `pages/` folder as an old-style
    multipage app, so a first visit straight to /train would run pages/train.py alone: no sidebar,
    no wide layout. A page that finds itself run that way switches the flag off and reruns, which
    runs app.py around it. Each page calls this first.

    Only the first time in a process: Streamlit's AppTest sets the flag again before every run, and
    a rerun there would swallow the click that started it.
    """
    global _frame_checked
    if _frame_checked:
        return
    _frame_checked = True
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # pragma: no cover - a future Streamlit layout
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
