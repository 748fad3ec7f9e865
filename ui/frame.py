"""Two adjustments to Streamlit that every page relies on; `app.py` applies them.

Both touch Streamlit internals (a hidden option, one private function, one class flag) and do
nothing if those move in a later release; tests/test_frame.py checks they still take effect.
"""

from __future__ import annotations

import sys

import streamlit as st
from streamlit import config as st_config


def protect_background_training() -> None:
    """Stop Streamlit from resetting Keras and running a full GC after every script run.

    After each run, fragment reruns included, Streamlit calls `keras.backend.clear_session()`
    (which clears TensorFlow's kernel cache and Keras's global state, then collects garbage) and
    `gc.collect(2)`: about 0.4 s holding the GIL with a model in memory. A page polling twice a second
    then keeps the GIL busy and clears the caches under the training thread: training ran 15 to 30
    times slower in our measurements. Fusion Lab never builds models on the script thread (models are
    built by jobs or loaded once into st.cache_resource), so there is nothing to clear. Idempotent.
    """
    st_config.set_option("runner.postScriptGC", False)
    try:
        from streamlit.runtime.scriptrunner import script_runner
    except ImportError:  # pragma: no cover - a future Streamlit layout
        return
    original = getattr(script_runner, "_clean_problem_modules", None)
    if original is None or getattr(original, "keeps_keras", False):
        return

    def clean_without_keras() -> None:
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")

    clean_without_keras.keeps_keras = True
    script_runner._clean_problem_modules = clean_without_keras


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
