"""Shared, cached resources: the run store, the job runner and the data set.

`st.cache_resource` makes one of each per server process, shared by every visitor; per-visitor
state lives in `st.session_state`, initialised here in one place.
"""

from __future__ import annotations

import os

import streamlit as st

from fusion_core.store import RunStore, StoreError


@st.cache_resource(show_spinner=False)
def _open_store() -> RunStore:
    return RunStore()


def get_store() -> RunStore:
    """The shared store; one that cannot be opened stops the page with its message, not a traceback."""
    try:
        return _open_store()
    except StoreError as exc:
        st.error(str(exc), icon="🗄️")
        st.stop()


@st.cache_resource(show_spinner=False)
def get_runner():
    from fusion_core.jobs import JobRunner

    # One training job at a time on a small machine; more where there are cores to spare.
    max_jobs = int(os.environ.get("FUSION_LAB_MAX_JOBS", "1"))
    return JobRunner(get_store(), max_concurrent=max_jobs)


@st.cache_resource(show_spinner="Loading MNIST…")
def get_mnist():
    """The verified MNIST (raises fusion_core.data.DataError with a readable message)."""
    from fusion_core.data import load_mnist

    return load_mnist()


@st.cache_resource(show_spinner=False)
def get_device() -> dict:
    from fusion_core.device import device_info

    return device_info()


@st.cache_resource(show_spinner="Loading model…", max_entries=8)
def get_model(path: str, mtime: float):
    """A saved model, cached by path and modification time (so a re-saved file is reloaded)."""
    from fusion_core.models import load_model

    return load_model(path)


def init_session() -> None:
    """Per-visitor keys, set once."""
    defaults = {"train_run_id": None, "draw_run_id": None}
    for key, value in defaults.items():
        st.session_state.setdefault(key, value)
