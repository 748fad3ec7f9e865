"""The bridge between a page and a training job: which run is mine, how is it doing, what came of it.

Training runs in a worker process (fusion_core.worker); the page submits a job and only polls
the run store (fusion_core.jobs.job_state). While a run is queued or
running, `live_run` draws it inside a fragment that reruns every `POLL_SECONDS` and asks the store
for the metric rows added since its last poll (kept per visitor in st.session_state). When the run
ends, the fragment asks for one full rerun, after which the page draws the run statically (no more
polling) and can show its results with `run_results`.

Live and finished, the run is drawn by the same `_run_view`: one status slot, the x-axis switch and
two charts with stable keys, in the same places, so no chart moves to a new slot (Streamlit would show
it blank until it is drawn again) when a poll finds new rows or the run ends.

The run id lives in the URL (?run=12) and in st.session_state, so a refresh or a return to the page
finds the same run, and two visitors (two tabs) each follow their own.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from fusion_core import jobs
from fusion_core.data import DataError
from ui.charts import (
    confusion_figure,
    curves_figure,
    gain_sentence,
    member_kinds,
    misclassified_gallery,
    results_table,
)
from ui.diversity_ui import diversity_panel
from ui.i18n import t
from ui.state import get_mnist, get_store
from ui.text import safe
from ui.words import device as device_words

ACTIVE = ("queued", "running")
POLL_SECONDS = 0.5
GALLERY_SIZE = 24
GALLERY_COLUMNS = 8
X_AXES = ("step", "seen", "epoch")


# -- which run is mine ------------------------------------------------------------------------------


MAX_RUN_DIGITS = 9  # run ids are small numbers; more digits is not a run (and overflows SQLite at 20)


def run_id_from_text(raw: object) -> int | None:
    """A run id from URL text: 1 to 9 ASCII digits, not 0; None for anything else ('²', '-1', 'abc')."""
    text = str(raw)
    if not (0 < len(text) <= MAX_RUN_DIGITS and text.isascii() and text.isdigit()):
        return None
    return int(text) or None


def remembered_run(state_key: str = "train_run_id", param: str = "run") -> int | None:
    """The visitor's run: from the URL first (a refresh keeps it), else from session state.

    A URL value that is not a plain run number is dropped from the URL with a note, never an error.
    """
    raw = st.query_params.get(param)
    run_id = None if raw is None else run_id_from_text(raw)
    if raw is not None and run_id is None:
        del st.query_params[param]
        st.caption(t("live.bad_param", param=param, value=safe(str(raw)[:40])))
    if run_id is None:
        run_id = st.session_state.get(state_key)
    if run_id is not None and get_store().get_run(int(run_id)) is None:
        forget_run(state_key, param)
        return None
    if run_id is not None:
        remember_run(int(run_id), state_key, param)
    return run_id if run_id is None else int(run_id)


def remember_run(run_id: int, state_key: str = "train_run_id", param: str = "run") -> None:
    st.session_state[state_key] = run_id
    if st.query_params.get(param) != str(run_id):
        st.query_params[param] = str(run_id)


def forget_run(state_key: str = "train_run_id", param: str = "run") -> None:
    st.session_state[state_key] = None
    if param in st.query_params:
        del st.query_params[param]


# -- polling ----------------------------------------------------------------------------------------


def _cache(run_id: int, key: str) -> dict:
    """This visitor's copy of the run's rows and the last seq read; reset when the run changes."""
    cache = st.session_state.get(f"{key}_cache")
    if cache is None or cache["run_id"] != run_id:
        run = get_store().get_run(run_id) or {}
        epochs = ((run.get("config") or {}).get("training") or {}).get("epochs")
        cache = {"run_id": run_id, "seq": -1, "rows": [], "epochs": epochs}
        st.session_state[f"{key}_cache"] = cache
    return cache


def new_rows(run_id: int, key: str) -> list[dict]:
    """All rows of the run so far; only the rows added since the last call are read from the store."""
    cache = _cache(run_id, key)
    fresh = get_store().metrics(run_id, after_seq=cache["seq"])
    if fresh:
        cache["rows"].extend(fresh)
        cache["seq"] = fresh[-1]["seq"]
    return cache["rows"]


def progress_text(progress: dict, epochs: int | None) -> str:
    """'Epoch 1.5 of 5 · step 700/2,345 · about 40 s left'."""
    text = t(
        "live.progress",
        epoch=progress["epoch"],
        epochs=epochs or "?",
        step=progress["step"],
        total=progress["total_steps"],
    )
    left = progress.get("seconds_left")
    if left is not None:
        text += " · " + (
            t("live.left_s", n=round(left)) if left < 90 else t("live.left_min", n=round(left / 60))
        )
    return text


def _stop(run_id: int, key: str) -> None:
    jobs.request_stop(get_store(), run_id)
    st.session_state[f"{key}_stopping"] = run_id


def _status_block(run_id: int, key: str, state: dict) -> None:
    """Progress bar, queue notice and Stop button of an active run."""
    status, progress = state["status"], state.get("progress")
    trained = state.get("trained_epochs")  # training has ended; the test set is being scored
    stopped = trained is not None and state.get("stop_requested")
    stopping = stopped or st.session_state.get(f"{key}_stopping") == run_id
    bar_col, stop_col = st.columns([6, 1], vertical_alignment="bottom")
    if stopped:  # shown the moment the stop is honoured, not once the test score exists
        bar_col.warning(t("live.stopped_scoring", epoch=trained))
        bar_col.progress(1.0, text=t("live.scoring"))
    elif trained is not None:
        bar_col.progress(1.0, text=t("live.scoring"))
    elif status == "queued":
        ahead = [r for r in jobs.active_runs(get_store()) if r < run_id]
        notice = "live.queued" if len(ahead) == 1 else "live.queued_many"
        bar_col.info(t(notice, n=max(len(ahead), 1)), icon="⏳")
        bar_col.progress(0.0, text=t("live.queued_bar"))
    elif stopping:
        bar_col.progress(progress["fraction"] if progress else 0.0, text=t("live.stopping"))
    elif progress is None:
        bar_col.progress(0.0, text=t("live.preparing"))
    elif progress["fraction"] >= 1.0:
        bar_col.progress(1.0, text=t("live.scoring"))
    else:
        bar_col.progress(progress["fraction"], text=progress_text(progress, _cache(run_id, key)["epochs"]))
    stop_col.button(
        t("live.stop"),
        key=f"{key}_stop",
        on_click=_stop,
        args=(run_id, key),
        disabled=stopping,
        icon=":material/stop_circle:",
        help=t("live.stop.help"),
        width="stretch",
    )


def _charts(rows: list[dict], key: str) -> None:
    x = (
        st.segmented_control(
            t("live.x_axis"),
            X_AXES,
            default="step",
            format_func=lambda v: t(f"live.x.{v}"),
            key=f"{key}_x",
            label_visibility="collapsed",
        )
        or "step"
    )
    loss_col, accuracy_col = st.columns(2)
    loss_col.plotly_chart(curves_figure(rows, metric="loss", x=x, title=t("live.loss")), key=f"{key}_loss")
    accuracy_col.plotly_chart(
        curves_figure(rows, metric="accuracy", x=x, title=t("live.accuracy")), key=f"{key}_accuracy"
    )


def _run_view(run_id: int, key: str, state: dict) -> None:
    """Status (live: progress and Stop; ended: the outcome) in one slot, then the curves."""
    slot = st.container()  # whatever the status shows, the charts below keep their places
    with slot:
        if state["status"] in ACTIVE:
            _status_block(run_id, key, state)
        else:
            _final_message(get_store().get_run(run_id), run_id)
    _charts(new_rows(run_id, key) if state["status"] != "missing" else [], key)


@st.fragment(run_every=POLL_SECONDS)
def _poll(run_id: int, key: str) -> None:
    state = jobs.job_state(get_store(), run_id)
    if state["status"] not in ACTIVE:
        st.rerun(scope="app")  # once: the page then draws the finished run without polling
    _run_view(run_id, key, state)


@st.fragment
def _still(run_id: int, key: str) -> None:
    """The ended run, in a fragment like `_poll`'s, so the x-axis switch reruns the charts alone."""
    _run_view(run_id, key, jobs.job_state(get_store(), run_id))


def _final_message(run: dict | None, run_id: int) -> None:
    if run is None:
        st.warning(t("live.missing", run_id=run_id))
        return
    status, results = run["status"], run.get("results") or {}
    if status == "done" and results.get("stopped_early"):
        st.info(t("live.stopped_early"), icon="🛑")
    elif status == "done":
        st.success(t("live.done"), icon="✅")
    elif status == "stopped" and not results:
        st.warning(t("live.stopped_before"))
    elif status == "stopped":
        st.warning(t("live.stopped", epoch=results.get("epochs_completed", 0.0)))
    elif status == "failed":
        st.error(t("live.failed", error=run.get("error") or "unknown error"))
    elif status == "interrupted":
        st.warning(t("live.interrupted", error=run.get("error") or status))


def live_run(run_id: int | None, key: str) -> str | None:
    """Draw run `run_id` (empty charts when None): live while it is active, statically once it ended.

    Returns the run's status ('queued', 'running', 'done', 'stopped', 'failed', 'interrupted',
    'missing') or None.
    """
    if run_id is None:
        st.container()  # the status slot of _run_view, so the charts stay in place when a run starts
        _charts([], key)
        return None
    status = jobs.job_state(get_store(), run_id)["status"]
    if status in ACTIVE:
        _poll(run_id, key)
    else:
        _still(run_id, key)
    return status


# -- results ----------------------------------------------------------------------------------------


def _enlarge(image: np.ndarray, factor: int = 4) -> np.ndarray:
    """Nearest-neighbour upscaling, so the 28x28 digits stay sharp instead of blurred by the browser."""
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def _head_note(head: dict | None) -> None:
    """What happened to a learned fusion after the members trained: fitted, or set aside and why."""
    if not head:
        return
    if head.get("fallback"):
        st.warning(t("results.head.fallback", reason=safe(head.get("reason") or "")))
        return
    st.info(
        t(
            "results.head.kept",
            held_out=head.get("held_out", 0),
            steps=head.get("fitted_steps", 0),
            seconds=head.get("seconds", 0.0),
            head=head.get("head_accuracy", 0.0),
            vote=head.get("vote_accuracy", 0.0),
            best=head.get("best_member_accuracy", 0.0),
        )
    )


def results_columns() -> dict:
    """Widths and formats of `results_table`'s columns: each wide enough for its numbers (669,706
    parameters, not '669'), the model's name and kind narrow."""
    cc = st.column_config
    return {
        t("charts.table.model"): cc.TextColumn(width="small"),
        t("charts.table.kind"): cc.TextColumn(width="small"),
        t("charts.table.accuracy"): cc.NumberColumn(format="%.2f", width="small"),
        t("charts.table.loss"): cc.NumberColumn(format="%.4f", width="small"),
        t("charts.table.params"): cc.NumberColumn(format="localized", width="medium"),
        t("charts.table.weight"): cc.NumberColumn(format="%.3f", width="small"),
    }


def run_results(run_id: int) -> None:
    """Test results of a finished run: table, gain, confusion matrix and the misclassified digits."""
    run = get_store().get_run(run_id)
    results = (run or {}).get("results")
    if not results:
        return
    single = run["config"]["fusion"]["type"] == "single"
    timings = run.get("timings") or {}
    st.subheader(t("results.title"), divider="gray")
    table_col, matrix_col = st.columns(2, gap="large")
    with table_col:
        table = results_table(results, single=single, kinds=member_kinds(run))
        st.dataframe(table, hide_index=True, width="stretch", column_config=results_columns())
        if not single:
            st.markdown(f"**{gain_sentence(results)}**")
        _head_note(results.get("head"))
        st.caption(
            t(
                "results.timing",
                train=timings.get("train_seconds", 0.0),
                per_epoch=timings.get("seconds_per_epoch", 0.0),
                device=device_words(run.get("device") or "?"),
                backend=run.get("backend") or "?",
                latency=results.get("latency_ms", 0.0),
                n_train=results.get("n_train", 0),
            )
        )
    matrix_col.plotly_chart(confusion_figure(results["confusion_matrix"]), key=f"run_{run_id}_confusion")
    if not single:
        diversity_panel(results, member_kinds(run))
    st.subheader(
        t("results.gallery_single" if single else "results.gallery"),
        divider="gray",
        help=None if single else t("results.gallery.help"),
    )
    try:
        x_test = get_mnist().x_test
    except DataError as exc:
        st.error(t("results.gallery_unavailable", error=exc))
        return
    items = misclassified_gallery(results, x_test, limit=GALLERY_SIZE, single=single)
    if not items:
        st.success(t("results.no_mistakes"))
    columns = st.columns(GALLERY_COLUMNS)
    for i, item in enumerate(items):
        columns[i % GALLERY_COLUMNS].image(_enlarge(item["image"]), caption=item["caption"], width="stretch")
