"""What the four experiment labs share: experiments as background jobs, the poller, cached measures.

An experiment is a list of `Point`s, one RunConfig each. `start_experiment` reuses the stored run of
every point that is already done (or already training) and submits the others as jobs under one
group id (fusion_core.jobs.submit_group), so a point is never trained twice. The group id lives in
the URL (?group=...) and in st.session_state, so a refresh or a return to the page shows the same experiment.
`experiment_ui` shows the overall progress, a status table per point, a Stop button and the
page's results; while any point is queued or running it draws inside a fragment that reruns every
POLL_SECONDS, so the plot fills in as points finish, and when nothing is active it asks for one
full rerun and stops polling.

The pieces only one lab needs (the sweep's plan, the overfitting variants, the grid of perturbed
digits) are in ui.labs_views, the chart and table builders in ui.labs_charts, the words in
ui/locales (the catalog).

Developers and tests can shrink every data-size sweep point with the environment variable
FUSION_LAB_LAB_OVERRIDES, a JSON object of make_config arguments, e.g. '{"hidden_units": 16}'.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import streamlit as st

from fusion_core import jobs
from fusion_core.config import MNIST_TRAIN_SIZE, ConfigError, RunConfig, make_config
from fusion_core.data import DataError, MnistData
from fusion_core.experiments import new_group_id
from fusion_core.perturb import PERTURBATIONS
from fusion_core.store import config_key
from ui.architecture import parameter_counts
from ui.i18n import t
from ui.share import copy_link_ui
from ui.state import get_mnist, get_predictor, get_store
from ui.text import safe

log = logging.getLogger(__name__)

ACTIVE = ("queued", "running")
POLL_SECONDS = 1
OVERRIDES_ENV = "FUSION_LAB_LAB_OVERRIDES"
# A rough model of training time, from measurements of the seed network on a 2-core CPU with TensorFlow
# (docs: 670k parameters, 4.0 s per 60,000-image epoch; a 5-member parallel fusion of it, 3.35M
# parameters, 10.7 s): seconds per image and epoch = BASE + PER_PARAM x parameters. Every epoch also
# scores the 6,000 validation images (inference costs about a third of a training step), and every
# run traces its graph once (longer with more members). `machine_speed` scales all of it to the
# runs this machine has already trained.
SECONDS_PER_IMAGE_EPOCH = 3.9e-5
SECONDS_PER_IMAGE_EPOCH_PER_PARAM = 4.15e-11
VALIDATION_IMAGE_SHARE = 1 / 3
TRACE_SECONDS_PER_MEMBER = 1.5
RUN_OVERHEAD_S = 2.0  # per run, besides training: data split, scoring the test set, saving


@dataclass(frozen=True)
class Point:
    """One point of an experiment: the run that answers it, and how to show it."""

    label: str  # how the status table names it: "single network · 250 images · seed 0"
    config: RunConfig
    name: str  # the run's name in the store
    meta: dict = field(default_factory=dict)  # what the page's results need (config name, size, seed)


# -- set-up ---------------------------------------------------------------------------------------


# Set by each sweep point itself; an override of them would collide with the sweep's own argument.
SWEEP_OWN_ARGUMENTS = ("fusion_type", "num_members", "rule", "train_size", "seed", "epochs")


def parse_lab_overrides(raw: str) -> dict:
    """make_config arguments from the text of FUSION_LAB_LAB_OVERRIDES; ValueError saying what is wrong."""
    raw = raw.strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, RecursionError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
        received = f"Received: {raw[:200]!r} ({reason})"
        raise ValueError(f"{OVERRIDES_ENV} must be a JSON object. {received}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{OVERRIDES_ENV} must be a JSON object. Received: {raw[:200]!r}")
    colliding = [key for key in value if key in SWEEP_OWN_ARGUMENTS]
    if colliding:
        raise ValueError(
            f"{OVERRIDES_ENV} may not set {', '.join(colliding)}: each sweep point sets "
            f"{', '.join(SWEEP_OWN_ARGUMENTS)} itself. Received: {raw[:200]!r}"
        )
    try:
        make_config(**value)  # every key and value checked once, with make_config's own message
    except (ConfigError, TypeError) as exc:
        raise ValueError(f"{OVERRIDES_ENV} holds a value make_config refuses: {exc}") from None
    return value


def lab_overrides() -> dict:
    """make_config arguments from FUSION_LAB_LAB_OVERRIDES; empty when unset or unusable.

    An unusable value is not an error for the page: the labs use their defaults, and `intro` shows
    `lab_overrides_problem()` so whoever set it sees why it was ignored.
    """
    try:
        return parse_lab_overrides(os.environ.get(OVERRIDES_ENV, ""))
    except ValueError:
        return {}


def lab_overrides_problem() -> str | None:
    """Why FUSION_LAB_LAB_OVERRIDES is ignored, or None when it is unset or usable."""
    try:
        parse_lab_overrides(os.environ.get(OVERRIDES_ENV, ""))
    except ValueError as exc:
        return str(exc)
    return None


def mnist_or_error() -> MnistData | None:
    """The data set, or None after showing why it cannot be loaded."""
    try:
        return get_mnist()
    except DataError as exc:
        st.error(t("labs.data_error", error=exc), icon="⚠️")
        return None


def intro(page: str) -> None:
    st.title(t(f"{page}.title"))
    st.markdown(t(f"{page}.intro"))
    copy_link_ui(f"{page}_share")  # the experiment on show (?group=, its plan) and the language
    problem = lab_overrides_problem()
    if problem:
        st.warning(t("labs.overrides_ignored", error=safe(problem)), icon="⚠️")


def what_to_look_for(page: str) -> None:
    st.subheader(t("labs.look_for"), divider="gray")
    st.markdown(t(f"{page}.look_for"))


def action_row(label: str, *, key: str, help_text: str, busy_text: str, busy: bool, disabled: bool = False):
    """A lab's primary button, disabled while its experiment runs, and a caption column beside it.

    Returns (clicked, caption column).
    """
    # 1 : 3 leaves 'Run sweep' its whole label on a 1024-pixel screen with the sidebar open.
    button_col, caption_col = st.columns([1, 3], vertical_alignment="center")
    clicked = button_col.button(
        label,
        key=key,
        type="primary",
        disabled=disabled or busy,
        help=busy_text if busy else help_text,
        width="stretch",
    )
    return clicked, caption_col


def model_mtime(run: dict) -> float | None:
    """The run's saved model's modification time, or None when it has no model on disk."""
    path = run.get("model_path")
    return os.path.getmtime(path) if path and Path(path).exists() else None


# -- time estimate --------------------------------------------------------------------------------


def _train_seconds(config: RunConfig, n_train: int, epochs: float) -> float:
    """The model above: how long `fit` takes for this config on `n_train` images."""
    tc = config.training
    n_val = round(MNIST_TRAIN_SIZE * tc.validation_fraction)
    per_image = (
        SECONDS_PER_IMAGE_EPOCH + SECONDS_PER_IMAGE_EPOCH_PER_PARAM * parameter_counts(config)["total"]
    )
    images = n_train + VALIDATION_IMAGE_SHARE * n_val
    return TRACE_SECONDS_PER_MEMBER * config.fusion.num_members + epochs * images * per_image


def _images(config: RunConfig) -> int:
    """The training images a run of this config gets: its size, capped at what validation leaves."""
    tc = config.training
    return min(tc.train_size, MNIST_TRAIN_SIZE - round(MNIST_TRAIN_SIZE * tc.validation_fraction))


def machine_speed(runs: Sequence[dict]) -> float | None:
    """How many times slower (>1) or faster (<1) than the model above this machine trained `runs`."""
    ratios = []
    for run in runs:
        results, timings = run.get("results") or {}, run.get("timings") or {}
        n, epochs, seconds = (
            results.get("n_train"),
            results.get("epochs_completed"),
            timings.get("train_seconds"),
        )
        if run["status"] != "done" or not (n and epochs and seconds):
            continue
        try:
            ratios.append(seconds / _train_seconds(RunConfig.from_dict(run["config"]), n, epochs))
        except (ValueError, TypeError, KeyError):  # a config this version cannot read: skip it
            continue
    return statistics.median(ratios) if ratios else None


def estimate_text(points: Sequence[Point]) -> str:
    """'12 points to train, 4 already in the store · about 6 min on this machine (...)'."""
    store = get_store()
    todo = [p.config for p in points if store.find_done_run(p.config.to_dict()) is None]
    speed = machine_speed(store.list_runs(status="done")[:30])
    seconds = sum(
        RUN_OVERHEAD_S + (speed or 1.0) * _train_seconds(c, _images(c), c.training.epochs) for c in todo
    )
    where = t("labs.estimate.measured") if speed else t("labs.estimate.guess")
    if not todo:
        time_text = t("labs.estimate.nothing")
    elif seconds < 60:
        time_text = t("labs.estimate.quick", where=where)
    else:
        time_text = t("labs.estimate.time", minutes=round(seconds / 60), where=where)
    return t("labs.estimate", todo=len(todo), reused=len(points) - len(todo), time=time_text)


# -- starting and finding an experiment ----------------------------------------------------------


def start_experiment(points: Sequence[Point], *, kind: str, lab: str) -> tuple[str, list[int]]:
    """Reuse what is stored or training, submit the rest in order; returns (group id, run id per point)."""
    group = new_group_id(lab)
    named = [(point.config, point.name) for point in points]
    submitted = jobs.submit_group(get_store(), named, kind=kind, group_id=group)
    return group, [run_id for run_id, _ in submitted]


PLAN_PARAM = "plan"  # ?plan=minute: a lab opens with its ready-made plan of that name (the lesson's links)


def requested_plan(name: str) -> bool:
    """Whether the URL asks for the lab's plan `name` (?plan=minute). The parameter is dropped once
    read, so the controls it set stay the visitor's to change and a refresh keeps their changes."""
    if st.query_params.get(PLAN_PARAM) != name:
        return False
    del st.query_params[PLAN_PARAM]
    return True


def remember_experiment(lab: str, group: str, ids: list[int], params: dict[str, str] | None = None) -> None:
    """Keep the group (and the plan's parameters) in the URL and the visitor's session."""
    st.session_state[f"{lab}_experiment"] = {"group": group, "ids": ids, "params": params or {}}
    st.query_params.update({"group": group, **(params or {})})


def remembered_experiment(lab: str, param_names: Sequence[str] = ()) -> tuple[str | None, dict[str, str]]:
    """(group, plan parameters) from the URL first (a refresh keeps them), else from the session."""
    group = st.query_params.get("group")
    if group and group.startswith(f"{lab}-"):
        return group, {k: st.query_params[k] for k in param_names if k in st.query_params}
    if group:  # another lab's experiment, or a tampered value: say so and drop it from the URL
        st.info(t("share.dropped", params=f"group={safe(group[:40])}"), icon="🔗")
        del st.query_params["group"]
    saved = st.session_state.get(f"{lab}_experiment")
    if not saved:
        return None, {}
    st.query_params.update(
        {"group": saved["group"], **saved["params"]}
    )  # back in the URL after a page switch
    return saved["group"], saved["params"]


def experiment_ids(lab: str, group: str, points: Sequence[Point]) -> list[int | None]:
    """The run answering each point: this session's list, else found again in the store."""
    saved = st.session_state.get(f"{lab}_experiment")
    if saved and saved["group"] == group and len(saved["ids"]) == len(points):
        return saved["ids"]
    params = saved["params"] if saved and saved["group"] == group else {}
    store = get_store()
    in_group: dict[str, int] = {}
    for run in store.list_runs(group_id=group):  # newest first
        in_group.setdefault(run["config_key"], run["id"])
    ids = []
    for point in points:
        config = point.config.to_dict()
        done = store.find_done_run(config)
        ids.append(in_group.get(config_key(config)) or (done["id"] if done else None))
    st.session_state[f"{lab}_experiment"] = {"group": group, "ids": ids, "params": params}
    return ids


# -- the poller -----------------------------------------------------------------------------------


def experiment_active(ids: Sequence[int | None]) -> bool:
    store = get_store()
    return any(rid is not None and jobs.job_state(store, rid)["status"] in ACTIVE for rid in ids)


def _status_text(state: dict, run: dict | None, group: str) -> str:
    status, progress = state["status"], state.get("progress")
    if run is None:
        return t("labs.status.missing")
    if status == "queued":
        position = state.get("queue_position")
        return t("labs.status.queued", n=position) if position else t("labs.status.waiting")
    if status == "running":
        return (
            t("labs.status.running", pct=round(100 * progress["fraction"]))
            if progress
            else t("labs.status.preparing")
        )
    if status == "done":
        return t("labs.status.done") if run.get("group_id") == group else t("labs.status.reused")
    if status == "failed":
        return t("labs.status.failed", error=run.get("error") or "?")
    return t(f"labs.status.{status}")


def _test_percent(run: dict | None) -> float | None:
    results = (run or {}).get("results") or {}
    return round(100 * results["fused_accuracy"], 2) if "fused_accuracy" in results else None


def _stop(group: str, ids: Sequence[int | None]) -> None:
    store = get_store()
    for rid in ids:
        run = store.get_run(rid) if rid is not None else None
        if run is not None and run.get("group_id") == group:  # never another experiment's runs
            jobs.request_stop(store, rid)


def _draw(lab, group, points, ids, render, active: bool) -> None:
    store = get_store()
    runs = [store.get_run(rid) if rid is not None else None for rid in ids]
    states = [jobs.job_state(store, rid) if rid is not None else {"status": "missing"} for rid in ids]
    done = sum(s["status"] == "done" for s in states)
    ended = sum(s["status"] not in ACTIVE for s in states)
    text = t("labs.progress", done=done, total=len(points))
    if ended > done:
        text += " · " + t("labs.progress.unfinished", n=ended - done)
    with st.container():  # one slot, whatever it shows, so the charts of `render` never move
        if active:
            partial = sum(
                (s.get("progress") or {}).get("fraction", 0.0) for s in states if s["status"] == "running"
            )
            bar_col, stop_col = st.columns([6, 1], vertical_alignment="bottom")
            bar_col.progress(min((ended + partial) / max(len(points), 1), 1.0), text=text)
            stop_col.button(
                t("labs.stop"),
                key=f"{lab}_stop",
                on_click=_stop,
                args=(group, ids),
                icon=":material/stop_circle:",
                help=t("labs.stop.help"),
                width="stretch",
            )
        else:
            st.caption(text)
        table = pd.DataFrame({
            t("labs.col.point"): [p.label for p in points],
            t("labs.col.status"): [_status_text(s, r, group) for s, r in zip(states, runs, strict=True)],
            t("labs.col.test"): [_test_percent(r) for r in runs],
            t("labs.col.run"): ids,
        })  # fmt: skip
        with st.expander(t("labs.points_table", n=len(points)), expanded=active):
            st.dataframe(table, hide_index=True, width="stretch")
    render(runs)


@st.fragment(run_every=POLL_SECONDS)
def _poll(lab, group, points, ids, render) -> None:
    if not experiment_active(ids):
        st.rerun(scope="app")  # once: the page then draws the finished experiment without polling
    _draw(lab, group, points, ids, render, active=True)


@st.fragment
def _still(lab, group, points, ids, render) -> None:
    """The ended experiment, drawn in a fragment like `_poll`'s: drawn from the app's run instead,
    the charts left the page for a frame when the experiment ended (tests/browser)."""
    _draw(lab, group, points, ids, render, active=False)


def experiment_ui(
    lab: str,
    group: str | None,
    points: Sequence[Point],
    ids: Sequence[int | None],
    render: Callable[[list[dict | None]], None],
) -> None:
    """Progress, status per point and `render(runs)` (one run or None per point); polled while active.

    With no experiment yet, `render([])` still draws, so the page shows its (empty) charts at once.
    Progress and the points' table take one slot above `render`'s elements in every state, so the
    charts keep their places (and never blank) when an experiment starts, updates or ends.
    """
    if group is None or not points:
        st.container()  # the slot `_draw` fills with progress, so the charts stay put when it starts
        render([])
    elif experiment_active(ids):
        _poll(lab, group, list(points), list(ids), render)
    else:
        _still(lab, group, list(points), list(ids), render)


# -- cached measurements of finished runs ---------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=4096)
def _training_accuracy(run_id: int, model_path: str, mtime: float) -> float | None:
    run = get_store().get_run(run_id)
    try:
        return get_predictor("labs").training_accuracy(run, get_mnist()) if run else None
    except Exception as exc:  # an unreadable model costs its training accuracy, not the page
        log.warning("training accuracy of run %s failed: %s", run_id, exc)
        return None


def run_training_accuracy(run: dict, *, measure: bool = True) -> float | None:
    """Fused accuracy on the run's own training images, measured once per run (cached).

    With `measure=False` only a value this visitor has already seen is returned (no model is loaded),
    so a page can draw at once and measure after.
    """
    mtime = model_mtime(run)
    if run.get("status") != "done" or mtime is None:
        return None
    seen = st.session_state.setdefault("labs_training_accuracy", {})
    key = (run["id"], mtime)
    if key not in seen and measure:
        seen[key] = _training_accuracy(run["id"], run["model_path"], mtime)
    return seen.get(key)


def needs_measuring(run: dict | None) -> bool:
    """Whether `run_training_accuracy` would load the run's model."""
    if run is None or run.get("status") != "done" or model_mtime(run) is None:
        return False
    return (run["id"], model_mtime(run)) not in st.session_state.get("labs_training_accuracy", {})


@st.cache_data(show_spinner=False, max_entries=512)
def robustness_rows(run_id: int, model_path: str, mtime: float, kind: str) -> list[dict]:
    """experiments.robustness_curve of one run over the registry's sweep strengths (cached).

    Computed by the prediction process; PredictorError when its model cannot be read."""
    return get_predictor("labs").robustness_curve(model_path, get_mnist(), kind, PERTURBATIONS[kind].sweep)
