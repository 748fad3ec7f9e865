"""Shared, cached resources: the run store, the app's worker processes, the data set and the predictors.

`st.cache_resource` makes one of each per server process, shared by every visitor; per-visitor
state lives in `st.session_state`, initialised here in one place.

Training never runs in this process: pages submit jobs to the store (fusion_core.jobs) and the
workers started by `start_workers` train them.
"""

from __future__ import annotations

import logging
import os
import sys

import streamlit as st

from fusion_core.executors import ExecutorError, executor_from_env
from fusion_core.predictor_client import PredictorClient
from fusion_core.store import RunStore, StoreError
from fusion_core.worker_pool import MAX_JOBS_ENV, WorkerPool, parse_max_jobs, start_pool

log = logging.getLogger(__name__)

SPAWN_ENV = "FUSION_LAB_SPAWN_WORKERS"  # "0": start no workers (tests run their own)


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


def spawning_allowed() -> bool:
    """Workers are started by a real `streamlit run` server only: never by AppTest or a bare import."""
    if os.environ.get(SPAWN_ENV, "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    return "streamlit.web.bootstrap" in sys.modules  # loaded by the streamlit command, not by AppTest


@st.cache_resource(show_spinner=False)
def _worker_pool() -> tuple[WorkerPool | None, str | None]:
    count, problem = parse_max_jobs(os.environ.get(MAX_JOBS_ENV))
    try:
        executor_from_env()  # a misspelt FUSION_LAB_EXECUTOR would make every worker exit at once
    except ExecutorError as exc:
        problem = f"{problem} {exc}" if problem else str(exc)
    if problem:
        log.warning(problem)
    pool = start_pool(count) if spawning_allowed() else None
    return pool, problem


def start_workers() -> str | None:
    """Start this server's workers once (FUSION_LAB_MAX_JOBS of them); a message when the setting was bad."""
    return _worker_pool()[1]


def get_device() -> dict | None:
    """{'backend', 'device', 'gpu'} as the workers report them (this process never imports Keras);
    None while no worker has reported yet."""
    for worker in get_store().list_workers():
        if worker.get("device"):
            return {
                "backend": worker["backend"],
                "device": worker["device"],
                "gpu": "GPU" in worker["device"],
            }
    return None


@st.cache_resource(show_spinner="Loading MNIST…")
def get_mnist():
    """The verified MNIST (raises fusion_core.data.DataError with a readable message)."""
    from fusion_core.data import load_mnist

    return load_mnist()


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
