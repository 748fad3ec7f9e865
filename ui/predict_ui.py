"""Helpers shared by the Learn, Draw a digit and Runs pages.

- predictions: `predict_drawing` (image -> what every member and the fusion say), probability bars
- pictures of digits: `enlarge`, `sample_indices`, `digit_grid`, `class_count_figure`
- finished runs and models: `finished_runs`, `run_label`, `model_picker_ui`, `load_run_model`

Models are loaded and run by the prediction process (ui.state.get_predictor), never in the server.

The Draw a digit page registers its English strings here; the Runs page's are in ui/runs_ui.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from fusion_core.preprocess import to_mnist
from fusion_core.registry import FUSED, member_index
from ui import run_names, words
from ui.charts import member_kinds  # noqa: F401 - each member's kind, read here by the Draw page
from ui.i18n import t
from ui.limits_ui import MY_RUNS
from ui.live import run_id_from_text
from ui.state import get_predictor

BLUE, RED, GREY = "#1f77b4", "#d62728", "#c7c7c7"
USABLE_STATUSES = ("done", "stopped")
DIGITS = [str(d) for d in range(10)]
RUN_PARAM = "run"  # the Draw page's model in its URL, as the Train page's run is in its own
TRAIN_SEEN = "draw_train_seen"  # the Train run the Draw page last defaulted to


# -- predictions ------------------------------------------------------------------------------------


@dataclass
class DrawPrediction:
    """What a model makes of one image: the 28x28 input and every output's probabilities."""

    image: np.ndarray  # float32 (28, 28), white ink on black, as the model sees it
    members: list[np.ndarray]  # one (10,) probability vector per member, in order
    fused: np.ndarray  # (10,) the fusion's probabilities

    @property
    def digit(self) -> int:
        return int(np.argmax(self.fused))

    @property
    def confidence(self) -> float:
        return float(np.max(self.fused))

    @property
    def member_digits(self) -> list[int]:
        return [int(np.argmax(p)) for p in self.members]

    @property
    def disagreeing(self) -> list[int]:
        """Indices (0-based) of the members whose top class differs from the fusion's."""
        return [k for k, d in enumerate(self.member_digits) if d != self.digit]


def predict_drawing(model_path: str, image: np.ndarray, *, background: str = "auto") -> DrawPrediction | None:
    """Preprocess a drawn or uploaded image like MNIST and predict it; None when there is no ink.

    The saved model at `model_path` answers from the warm prediction process, so a canvas stroke
    costs milliseconds. Raises fusion_core.predictor_client.PredictorError when it cannot answer.
    """
    digit = to_mnist(image, background=background)
    if digit is None:
        return None
    out = get_predictor().predict(model_path, digit)
    members = [out[name] for name in sorted((n for n in out if n != FUSED), key=_member_index)]
    return DrawPrediction(image=digit, members=members, fused=out[FUSED])


def _member_index(name: str) -> int:
    index = member_index(name)
    return index if index is not None else 10**6


def probability_figure(
    probs: np.ndarray, title: str, *, color: str = BLUE, title_color: str | None = None, height: int = 220
) -> go.Figure:
    """Ten bars, the winning digit coloured, y from 0 to 100%."""
    probs = np.asarray(probs, dtype=float)
    top = int(np.argmax(probs))
    fig = go.Figure(
        go.Bar(
            x=DIGITS,
            y=probs,
            marker_color=[color if d == top else GREY for d in range(10)],
            hovertemplate=t("predict.digit") + " %{x}: %{y:.1%}<extra></extra>",
        )
    )
    fig.update_layout(
        title={"text": title, "font": {"color": title_color, "size": 14}, "x": 0.02},
        height=height,
        margin={"l": 10, "r": 10, "t": 36, "b": 10},
        showlegend=False,
        xaxis={"type": "category", "fixedrange": True, "dtick": 1},
        yaxis={"range": [0, 1], "tickformat": ".0%", "fixedrange": True},
        bargap=0.25,
    )
    return fig


def show_verdict(pred: DrawPrediction, *, key: str) -> None:
    """The winning digit, large, next to the fusion's probability bars."""
    many = len(pred.members) > 1
    headline = t("predict.fused" if many else "predict.single", digit=pred.digit, confidence=pred.confidence)
    left, right = st.columns([1, 3], vertical_alignment="center")
    with left:
        st.markdown(
            f"<div style='font-size:7rem;font-weight:700;line-height:1;text-align:center'>{pred.digit}</div>",
            unsafe_allow_html=True,
        )
    with right:
        st.plotly_chart(probability_figure(pred.fused, headline, height=260), key=f"{key}_fused")


def show_members(pred: DrawPrediction, *, key: str, kinds: list[str] | None = None) -> None:
    """One small chart per member, up to five a row; members that disagree with the fusion in red.

    `kinds` (member_kinds of the run) labels each chart with its member's kind: 'Member 2 · CNN'."""
    if len(pred.members) < 2:
        return
    st.subheader(t("draw.members"))
    wrong = pred.disagreeing
    if wrong:
        message = "draw.one_disagrees" if len(wrong) == 1 else "draw.some_disagree"
        st.markdown(f":red[{t(message, count=len(wrong), total=len(pred.members))}]")
    else:
        st.caption(t("draw.all_agree", count=len(pred.members)))
    per_row = min(5, len(pred.members))
    for start in range(0, len(pred.members), per_row):
        cols = st.columns(per_row)
        for k in range(start, min(start + per_row, len(pred.members))):
            if k in wrong:
                title = t("predict.member_disagrees", k=k + 1, digit=pred.member_digits[k])
            else:
                title = t("predict.member", k=k + 1)
            if kinds and len(kinds) == len(pred.members):
                title = t("predict.member_kind", title=title, kind=kinds[k])
            if k in wrong:
                fig = probability_figure(pred.members[k], title, color=RED, title_color=RED)
            else:
                fig = probability_figure(pred.members[k], title)
            with cols[k - start]:
                st.plotly_chart(fig, key=f"{key}_member_{k}")


# -- pictures of digits -----------------------------------------------------------------------------


def enlarge(image: np.ndarray, scale: int = 8) -> np.ndarray:
    """A [0, 1] float or uint8 image as uint8, each pixel repeated `scale` times (nearest neighbour)."""
    a = np.asarray(image)
    if a.dtype != np.uint8:
        a = np.clip(np.rint(a.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)
    return np.repeat(np.repeat(a, scale, axis=0), scale, axis=1)


def sample_indices(labels: np.ndarray, per_class: int = 2, seed: int = 0) -> np.ndarray:
    """`per_class` indices of each label 0..9 (fewer if a class is short), ordered by label."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    picks = []
    for digit in range(10):
        where = np.flatnonzero(labels == digit)
        if where.size:
            picks.append(np.sort(rng.choice(where, size=min(per_class, where.size), replace=False)))
    return np.concatenate(picks) if picks else np.empty(0, dtype=np.int64)


def digit_grid(images: np.ndarray, labels: np.ndarray, per_class: int = 2, *, scale: int = 3, seed: int = 0):
    """One uint8 picture: a column per digit 0..9, `per_class` samples down each column, 2 px gaps."""
    idx = sample_indices(labels, per_class, seed)
    side, gap = 28 * scale, 2 * scale
    grid = np.full((per_class * (side + gap) - gap, 10 * (side + gap) - gap), 255, dtype=np.uint8)
    row_of = {d: 0 for d in range(10)}
    for i in idx:
        d = int(labels[i])
        r, c = row_of[d], d
        row_of[d] += 1
        y, x = r * (side + gap), c * (side + gap)
        grid[y : y + side, x : x + side] = enlarge(np.asarray(images[i]), scale)
    return grid


def class_count_figure(y_train: np.ndarray, y_test: np.ndarray, *, train_name: str, test_name: str):
    """Grouped bars: how many images of each digit the training and test sets hold."""
    fig = go.Figure()
    for name, labels, color in ((train_name, y_train, BLUE), (test_name, y_test, "#ff7f0e")):
        counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=10)[:10]
        fig.add_bar(x=DIGITS, y=counts.tolist(), name=name, marker_color=color)
    fig.update_layout(
        barmode="group",
        height=300,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"type": "category", "title": t("predict.digit")},
        legend={"orientation": "h", "y": 1.12},
    )
    return fig


# -- runs and their models ----------------------------------------------------------------------------


def describe_config(config: dict | None) -> str:
    """RunConfig.describe() for a stored config dict, in the visitor's language, or a placeholder
    when it does not parse."""
    return words.describe_config(config) or t("predict.config_unknown")


def fused_test_accuracy(run: dict) -> float | None:
    results = run.get("results") or {}
    value = results.get("fused_accuracy")
    return float(value) if isinstance(value, (int, float)) else None


def format_accuracy(value: float | None) -> str:
    return run_names.format_percent(value)


def run_label(run: dict) -> str:
    """'#12 · 5 × MLP · soft vote · 3 epochs · 97.53%': the configuration said once (ui/run_names.py)."""
    return run_names.run_label(run, fused_test_accuracy(run))


def finished_runs(store) -> list[dict]:
    """Runs that ended with a saved model still on disk, newest first."""
    usable = []
    for run in store.list_runs():
        path = run.get("model_path")
        if run["status"] in USABLE_STATUSES and path and Path(path).exists():
            usable.append(run)
    return usable


def load_run_model(run: dict) -> str:
    """Load the run's model in the prediction process and return its path (what predictions take).

    Loading when the page opens makes the first stroke fast and reports an unreadable file at once
    (PredictorError). The process keeps it warm by path and modification time.
    """
    path = run["model_path"]
    get_predictor().load(path)
    return path


def _remember_draw_choice() -> None:
    st.session_state["draw_run_id"] = st.session_state.get("draw_run")


def default_run(by_id: dict[int, dict]) -> int | None:
    """The run the Draw page starts from: this visitor's own, never merely the newest in the store.

    In order: a run trained on Train since the page last looked (session, or ?run= in a link), the
    run chosen here or sent from Runs, the visitor's other runs (newest first); None leaves the
    picker on the newest finished run, for a visitor who has trained nothing yet.
    """
    state = st.session_state
    train_run = state.get("train_run_id")
    if train_run in by_id and train_run != state.get(TRAIN_SEEN):
        state[TRAIN_SEEN] = train_run  # a new run from Train wins once; a later choice here stays
        return train_run
    linked = run_id_from_text(st.query_params.get(RUN_PARAM, ""))
    mine = [state.get("draw_run_id"), linked, train_run, *reversed(state.get(MY_RUNS, []))]
    return next((run_id for run_id in mine if run_id in by_id), None)


def model_picker_ui(runs: list[dict], *, key: str = "draw_run") -> dict | None:
    """A selectbox of finished runs, newest first, starting on `default_run`; the choice is kept in
    st.session_state["draw_run_id"] and in the URL (?run=12), so a copied link opens the same model."""
    if not runs:
        return None
    by_id = {run["id"]: run for run in runs}
    wanted = default_run(by_id)
    if wanted in by_id and st.session_state.get(key) != wanted:
        st.session_state[key] = wanted
    elif st.session_state.get(key) not in by_id:
        st.session_state.pop(key, None)
    run_id = st.selectbox(
        t("draw.model"),
        options=list(by_id),
        format_func=lambda rid: run_label(by_id[rid]),
        key=key,
        help=t("draw.model_help"),
        on_change=_remember_draw_choice,
    )
    if run_id is not None and st.query_params.get(RUN_PARAM) != str(run_id):
        st.query_params[RUN_PARAM] = str(run_id)
    return by_id.get(run_id)
