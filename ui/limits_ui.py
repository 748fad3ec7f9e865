"""What a run will cost, shown before it is started, and the per-visitor job limit.

The arithmetic lives in fusion_core.limits; this module draws it and remembers, per visitor, which
runs they started, so that one visitor cannot fill the shared queue.
"""

from __future__ import annotations

import streamlit as st

from fusion_core.config import RunConfig
from fusion_core.limits import (
    MAX_ACTIVE_PER_VISITOR,
    Estimate,
    ResourceLimitError,
    breaches,
    check_active_runs,
    estimate,
    format_bytes,
    format_minutes,
)
from fusion_core.store import StoreError
from ui import words
from ui.i18n import t
from ui.state import get_store

MY_RUNS = "visitor_run_ids"  # the run ids this visitor started, on any page
ACTIVE = ("queued", "running")


def note_run(run_id: int) -> None:
    """Remember that this visitor started `run_id` (counted against the per-visitor limit)."""
    st.session_state.setdefault(MY_RUNS, []).append(int(run_id))


def active_runs() -> int:
    """How many of this visitor's runs are queued or running now, read from the store."""
    store, active = get_store(), 0
    for run_id in st.session_state.get(MY_RUNS, []):
        run = store.get_run(run_id)
        active += bool(run and run["status"] in ACTIVE)
    return active


def queue_refusal() -> str | None:
    """The message that refuses one more job from this visitor, or None while they may start one."""
    active = active_runs()
    try:
        check_active_runs(active, MAX_ACTIVE_PER_VISITOR)
    except ResourceLimitError:
        return t("words.limit.queue", active=active, limit=MAX_ACTIVE_PER_VISITOR)
    return None


def run_estimate(config: RunConfig) -> Estimate:
    """The estimate, its time scaled by the finished runs in the store (if it can be read)."""
    try:
        finished = get_store().list_runs(status="done")
    except (StoreError, OSError, ValueError):  # no calibration is better than no page
        finished = []
    return estimate(config, finished)


def estimate_ui(config: RunConfig) -> str | None:
    """Draws memory and time next to the parameter count; returns the refusal message, or None."""
    est = run_estimate(config)
    calibrated = t("limits.calibrated", n=est.calibrated_on) if est.calibrated_on else ""
    st.metric(t("limits.memory"), format_bytes(est.memory_bytes), help=t("limits.memory.help"))
    st.metric(
        t("limits.time"),
        format_minutes(est.total_seconds),
        help=t("limits.time.help", per_epoch=format_minutes(est.seconds_per_epoch), calibrated=calibrated),
    )
    return _too_large(est)


def start_refusal(config: RunConfig) -> str | None:
    """Why this visitor may not start this run now (too large, or too many of theirs waiting), or None."""
    return _too_large(run_estimate(config)) or queue_refusal()


def _too_large(est: Estimate) -> str | None:
    """The message that refuses a run beyond this machine's limits, worded from their codes."""
    found = [words.limit_breach(code, values) for code, values in breaches(est)]
    return t("limits.too_large", problems=t("words.limit.join").join(found)) if found else None
