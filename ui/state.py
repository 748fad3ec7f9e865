"""Shared, cached resources: the run store, the job runner, the data set and the predictor.

`st.cache_resource` makes one of each per server process, shared by every visitor; per-visitor
state lives in `st.session_state`, initialised here in one place.
"""

from __future__ import annotations

import functools
import os

import streamlit as st

from fusion_core.predictor_client import PredictorClient
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
    return _device_info()


@functools.cache
def _device_info() -> dict:
    # Asked of the prediction process (the server never imports Keras), once per server process:
    # the answer never changes, and a cleared resource cache should not start a process for it.
    return get_predictor().device_info()


PREDICTOR_ROLES = ("draw", "labs")


def get_predictor(role: str = "draw") -> PredictorClient:
    """A prediction process's client, shared by every visitor (it holds the warm models).

    Two processes, so a stroke on Draw a digit never queues behind a lab's measurement (robustness
    curves, training accuracies, uploads take seconds): "draw" answers strokes, "labs" the rest.
    """
    if role not in PREDICTOR_ROLES:
        raise ValueError(f"Unknown predictor role; expected one of {PREDICTOR_ROLES}. Received: {role=}")
    return _predictor(role)  # always called with the role, so one cache entry per role


@st.cache_resource(show_spinner=False)
def _predictor(role: str) -> PredictorClient:
    return PredictorClient()


def init_session() -> None:
    """Per-visitor keys, set once."""
    defaults = {"train_run_id": None, "draw_run_id": None}
    for key, value in defaults.items():
        st.session_state.setdefault(key, value)
