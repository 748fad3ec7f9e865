"""Helpers shared by the Learn, Draw a digit and Runs pages.

- predictions: `predict_drawing` (image -> what every member and the fusion say), probability bars
- pictures of digits: `enlarge`, `sample_indices`, `digit_grid`, `class_count_figure`
- finished runs and models: `finished_runs`, `run_label`, `model_picker_ui`, `load_run_model`
- the Runs page: `runs_frame`, `filter_runs`, `fused_curves_figure`, `accuracy_bar_figure`
- uploads: `register_uploaded_model` (a .keras file from another Fusion Lab becomes a run)

The Draw a digit and Runs pages register their English strings here.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from fusion_core.config import ConfigError, FusionConfig, MemberConfig, RunConfig, TrainConfig
from fusion_core.preprocess import to_mnist
from ui.i18n import register, t
from ui.state import get_model

register(
    "en",
    {
        # shared
        "predict.member": "Member {k}",
        "predict.member_disagrees": "Member {k} says {digit}",
        "predict.fused": "Fusion: {digit} ({confidence:.0%} sure)",
        "predict.single": "The network says {digit} ({confidence:.0%} sure)",
        "predict.digit": "digit",
        "predict.probability": "probability",
        "predict.run_label": "{name} · {description} · test accuracy {accuracy}",
        "predict.no_accuracy": "n/a",
        "predict.config_unknown": "unknown configuration",
        "predict.model_missing": "The saved model of run {run_id} is gone: {path}",
        # Draw a digit
        "draw.title": "Draw a digit",
        "draw.intro": (
            "Draw a digit from 0 to 9 in the box. Every stroke updates the predictions: each member "
            "of the fusion votes with its class probabilities and the fusion combines them. Your "
            "drawing is cropped, scaled to 20×20 and centred in 28×28 the way MNIST's authors "
            "prepared their digits, so it does not matter where in the box you draw."
        ),
        "draw.model": "Model",
        "draw.model_help": "Finished runs that saved a model, newest first.",
        "draw.empty_title": "No trained model yet",
        "draw.empty_body": (
            "Train a small fusion here in one click (3 members with one hidden layer of 128 units, "
            "1 epoch on 10,000 images; well under a minute on two cores), or train your own on the "
            "Train page."
        ),
        "draw.quick_train": "Train a quick fusion",
        "draw.quick_name": "Quick fusion (Draw a digit)",
        "draw.quick_queued": "Waiting for another training to finish (position {position} in the queue)…",
        "draw.quick_starting": "Loading MNIST and building the model…",
        "draw.quick_progress": "Training the quick fusion: {percent:.0%}, about {seconds:.0f} s left",
        "draw.quick_failed": "The quick fusion failed: {error}",
        "draw.quick_done": "The quick fusion is ready: {accuracy} on the test set.",
        "draw.canvas_label": "Your drawing",
        "draw.clear": "Clear",
        "draw.upload": "…or upload a picture of a digit (PNG or JPEG)",
        "draw.upload_help": "Dark ink on light paper or light ink on dark; one digit per picture.",
        "draw.using_upload": "Predicting the uploaded picture. Remove it to predict your drawing again.",
        "draw.prompt": "Draw a digit in the box",
        "draw.seen": "What the model sees (28×28)",
        "draw.members": "What each member says",
        "draw.all_agree": "All {count} members agree with the fusion.",
        "draw.one_disagrees": "1 of {total} members disagrees with the fusion (in red).",
        "draw.some_disagree": "{count} of {total} members disagree with the fusion (in red).",
        # Runs
        "runs.title": "Runs",
        "runs.intro": (
            "Every training run of this lab. Select rows in the table to compare their validation "
            "curves and test accuracies; pick one run below to rename, download, delete or use it."
        ),
        "runs.empty": "No runs yet. Train a network and it will appear here, with its curves and results.",
        "runs.go_train": "Go to the Train page",
        "runs.filter_status": "Status",
        "runs.filter_type": "Fusion type",
        "runs.search": "Search names",
        "runs.search_placeholder": "part of a run name",
        "runs.none_match": "No run matches these filters.",
        "runs.count": "{shown} of {total} runs shown.",
        "runs.col.id": "ID",
        "runs.col.name": "Name",
        "runs.col.status": "Status",
        "runs.col.type": "Fusion type",
        "runs.col.members": "Members",
        "runs.col.rule": "Rule",
        "runs.col.arch": "Layers × units",
        "runs.col.activation": "Activation",
        "runs.col.epochs": "Epochs",
        "runs.col.train_size": "Train size",
        "runs.col.accuracy": "Test accuracy",
        "runs.col.sec_epoch": "Seconds / epoch",
        "runs.col.created": "Created",
        "runs.col.kind": "Origin",
        "runs.compare": "Compare the selected runs",
        "runs.compare_hint": "Select one or more rows in the table to compare their curves.",
        "runs.curve_accuracy": "Fused validation accuracy",
        "runs.curve_loss": "Fused validation loss",
        "runs.no_curves": "The selected runs have no validation points yet.",
        "runs.bar_title": "Test accuracy of the fusion",
        "runs.epoch": "epoch",
        "runs.accuracy": "accuracy",
        "runs.loss": "loss",
        "runs.manage": "Run to manage",
        "runs.manage_header": "Manage one run",
        "runs.rename": "New name",
        "runs.rename_button": "Rename",
        "runs.renamed": "Renamed run {run_id} to “{name}”.",
        "runs.rename_empty": "A name cannot be empty.",
        "runs.delete_confirm": "Yes, delete run {run_id} and its saved model",
        "runs.delete_button": "Delete",
        "runs.deleted": "Deleted run {run_id}.",
        "runs.download_csv": "Download metrics (CSV)",
        "runs.download_model": "Download model (.keras)",
        "runs.no_model": "This run has no saved model.",
        "runs.use_on_draw": "Use on Draw a digit",
        "runs.error": "Error: {error}",
        "runs.upload_header": "Upload a model",
        "runs.upload": "A .keras model trained in Fusion Lab",
        "runs.upload_help": "It becomes a run here and can be used on Draw a digit.",
        "runs.upload_done": "Added the uploaded model as run {run_id} ({accuracy} on the test set).",
        "runs.upload_bad": "This is not a Fusion Lab model: {reason}",
        "runs.upload_checking": "Checking the model and scoring it on the test set…",
    },
)

BLUE, RED, GREY = "#1f77b4", "#d62728", "#c7c7c7"
RUN_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
USABLE_STATUSES = ("done", "stopped")
DIGITS = [str(d) for d in range(10)]


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


def predict_drawing(model, image: np.ndarray, *, background: str = "auto") -> DrawPrediction | None:
    """Preprocess a drawn or uploaded image like MNIST and predict it; None when there is no ink.

    One direct model call (no `model.predict`), so a canvas stroke costs milliseconds.
    """
    from fusion_core.evaluate import predict_one
    from fusion_core.models import FUSED

    digit = to_mnist(image, background=background)
    if digit is None:
        return None
    out = predict_one(model, digit)
    members = [out[name] for name in sorted((n for n in out if n != FUSED), key=_member_index)]
    return DrawPrediction(image=digit, members=members, fused=out[FUSED])


def _member_index(name: str) -> int:
    match = re.fullmatch(r"member_(\d+)", name)
    return int(match.group(1)) if match else 10**6


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


def show_members(pred: DrawPrediction, *, key: str) -> None:
    """One small chart per member, up to five a row; members that disagree with the fusion in red."""
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
                fig = probability_figure(pred.members[k], title, color=RED, title_color=RED)
            else:
                fig = probability_figure(pred.members[k], t("predict.member", k=k + 1))
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
    """RunConfig.describe() for a stored config dict, or a placeholder when it does not parse."""
    try:
        return RunConfig.from_dict(config or {}).describe()
    except (ConfigError, TypeError, ValueError):
        return t("predict.config_unknown")


def fused_test_accuracy(run: dict) -> float | None:
    results = run.get("results") or {}
    value = results.get("fused_accuracy")
    return float(value) if isinstance(value, (int, float)) else None


def format_accuracy(value: float | None) -> str:
    return f"{value:.2%}" if value is not None else t("predict.no_accuracy")


def run_label(run: dict) -> str:
    return t(
        "predict.run_label",
        name=run["name"],
        description=describe_config(run.get("config")),
        accuracy=format_accuracy(fused_test_accuracy(run)),
    )


def finished_runs(store) -> list[dict]:
    """Runs that ended with a saved model still on disk, newest first."""
    usable = []
    for run in store.list_runs():
        path = run.get("model_path")
        if run["status"] in USABLE_STATUSES and path and Path(path).exists():
            usable.append(run)
    return usable


def load_run_model(run: dict):
    """The run's Keras model, cached by path and modification time."""
    path = run["model_path"]
    return get_model(path, os.path.getmtime(path))


def _remember_draw_choice() -> None:
    st.session_state["draw_run_id"] = st.session_state.get("draw_run")


def model_picker_ui(runs: list[dict], *, key: str = "draw_run") -> dict | None:
    """A selectbox of finished runs, newest first; `st.session_state["draw_run_id"]` preselects one."""
    if not runs:
        return None
    by_id = {run["id"]: run for run in runs}
    wanted = st.session_state.get("draw_run_id")
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
    return by_id.get(run_id)


# -- the Runs page ------------------------------------------------------------------------------------

# The most telling columns first, so they are visible without scrolling the table sideways.
RUN_COLUMNS = ("id", "name", "status", "accuracy", "type", "members", "rule", "arch", "activation", "epochs",
               "train_size", "sec_epoch", "created", "kind")  # fmt: skip


def _run_row(run: dict) -> dict[str, Any]:
    config = run.get("config") or {}
    fusion, training = config.get("fusion") or {}, config.get("training") or {}
    member = config.get("member") or {}
    units = member.get("hidden_units")
    layers_ = member.get("hidden_layers")
    if config.get("members"):
        arch = "mixed"
    elif isinstance(units, list):
        arch = f"{layers_}×[{', '.join(map(str, units))}]"
    elif layers_ is not None and units is not None:
        arch = f"{layers_}×{units}"
    else:
        arch = None
    activation = member.get("activation")
    results, timings = run.get("results") or {}, run.get("timings") or {}
    return {
        "id": run["id"],
        "name": run["name"],
        "status": run["status"],
        "type": fusion.get("type"),
        "members": fusion.get("num_members"),
        "rule": fusion.get("rule"),
        "arch": arch,
        "activation": ", ".join(activation) if isinstance(activation, list) else activation,
        "epochs": results.get("epochs_completed", training.get("epochs")),
        "train_size": results.get("n_train", training.get("train_size")),
        "accuracy": fused_test_accuracy(run),
        "sec_epoch": timings.get("seconds_per_epoch"),
        "created": datetime.fromtimestamp(run["created_at"]) if run.get("created_at") else None,
        "kind": run.get("kind"),
    }


def runs_frame(runs: list[dict]) -> pd.DataFrame:
    """One row per run, columns RUN_COLUMNS (plain values; labels come from `runs_column_config`)."""
    return pd.DataFrame([_run_row(r) for r in runs], columns=list(RUN_COLUMNS))


def runs_column_config() -> dict[str, Any]:
    cc = st.column_config
    return {
        "id": cc.NumberColumn(t("runs.col.id"), format="%d", width="small"),
        "name": cc.TextColumn(t("runs.col.name")),
        "status": cc.TextColumn(t("runs.col.status"), width="small"),
        "type": cc.TextColumn(t("runs.col.type"), width="small"),
        "members": cc.NumberColumn(t("runs.col.members"), format="%d", width="small"),
        "rule": cc.TextColumn(t("runs.col.rule"), width="small"),
        "arch": cc.TextColumn(t("runs.col.arch"), width="small"),
        "activation": cc.TextColumn(t("runs.col.activation"), width="small"),
        "epochs": cc.NumberColumn(t("runs.col.epochs"), format="%.4g", width="small"),
        "train_size": cc.NumberColumn(t("runs.col.train_size"), format="%d", width="small"),
        "accuracy": cc.NumberColumn(t("runs.col.accuracy"), format="percent"),
        "sec_epoch": cc.NumberColumn(t("runs.col.sec_epoch"), format="%.2f", width="small"),
        "created": cc.DatetimeColumn(t("runs.col.created"), format="YYYY-MM-DD HH:mm", width="medium"),
        "kind": cc.TextColumn(t("runs.col.kind"), width="small"),
    }


def filter_runs(
    runs: list[dict], *, statuses: list[str] | None = None, types: list[str] | None = None, search: str = ""
) -> list[dict]:
    """Runs with a chosen status and fusion type (none chosen = all) whose name contains `search`."""
    needle = search.strip().lower()
    kept = []
    for run in runs:
        fusion_type = ((run.get("config") or {}).get("fusion") or {}).get("type")
        if statuses and run["status"] not in statuses:
            continue
        if types and fusion_type not in types:
            continue
        if needle and needle not in run["name"].lower():
            continue
        kept.append(run)
    return kept


def fused_validation(store, run_id: int) -> pd.DataFrame:
    """The fusion's validation points of one run: epoch, loss, accuracy."""
    rows = [m for m in store.metrics(run_id) if m["split"] == "val" and m["series"] == "fused"]
    return pd.DataFrame(rows, columns=["epoch", "loss", "accuracy"]) if rows else pd.DataFrame()


def run_color(index: int) -> str:
    """The colour of the index-th compared run, the same in every comparison chart."""
    return RUN_COLORS[index % len(RUN_COLORS)]


def fused_curves_figure(curves: dict[str, pd.DataFrame], metric: str, title: str) -> go.Figure:
    """One line per run (name -> its fused validation points) of `metric` against epochs."""
    fig = go.Figure()
    for i, (name, frame) in enumerate(curves.items()):
        if frame.empty:
            continue
        fig.add_scatter(
            x=frame["epoch"].tolist(),
            y=frame[metric].tolist(),
            mode="lines+markers",
            name=name,
            line={"color": run_color(i)},
        )
    fig.update_layout(
        title={"text": title, "x": 0.02},
        height=340,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis={"title": t("runs.epoch")},
        yaxis={"title": t(f"runs.{metric}"), **({"tickformat": ".1%"} if metric == "accuracy" else {})},
        legend={"orientation": "h", "y": -0.2},
        hovermode="x unified",
    )
    return fig


def accuracy_bar_figure(runs: list[dict]) -> go.Figure:
    """Test accuracy of each run's fusion (coloured as in the curves), zoomed to the range they span."""
    bars = [(f"{r['name']} (#{r['id']})", fused_test_accuracy(r), run_color(i)) for i, r in enumerate(runs)]
    bars = [bar for bar in bars if bar[1] is not None]
    fig = go.Figure(
        go.Bar(
            x=[name for name, _, _ in bars],
            y=[accuracy for _, accuracy, _ in bars],
            text=[f"{accuracy:.2%}" for _, accuracy, _ in bars],
            textposition="outside",
            marker_color=[color for _, _, color in bars],
        )
    )
    low = min((accuracy for _, accuracy, _ in bars), default=0.0)
    fig.update_layout(
        title={"text": t("runs.bar_title"), "x": 0.02},
        height=340,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        yaxis={"range": [max(0.0, low - 0.05), 1.0], "tickformat": ".0%"},
        xaxis={"type": "category"},
    )
    return fig


# -- uploaded models -------------------------------------------------------------------------------


class NotAFusionModel(ValueError):
    """An uploaded file is not a model that Fusion Lab saved; the message says why."""


_MODEL_NAME = re.compile(r"(single|parallel|serial|hybrid)_([a-z]+)_x(\d+)")


def infer_config(model) -> RunConfig:
    """The RunConfig a Fusion Lab model was most likely built from, read from its layers.

    Fusion Lab names its models '<type>_<rule>_x<members>' and its layers 'member_<k>_dense_<i>';
    training settings are not saved in the model, so they keep their defaults.
    """
    match = _MODEL_NAME.fullmatch(model.name or "")
    num_members = sum(1 for name in model.output_names if name.startswith("member_"))
    fusion = FusionConfig(type="parallel" if num_members > 1 else "single", num_members=num_members)
    fusion.rule = "soft" if num_members > 1 else "none"
    if match:
        fusion = FusionConfig(type=match.group(1), num_members=int(match.group(3)), rule=match.group(2))
    try:
        fusion.meta_units = int(model.get_layer("meta_dense").units)
    except ValueError:
        pass
    members = [_member_config(model, k) for k in range(num_members)]
    same = all(m == members[0] for m in members)
    config = RunConfig(
        member=members[0] if members else MemberConfig(),
        members=None if same else members,
        fusion=fusion,
        training=TrainConfig(),
    )
    return config.validate()


def _member_config(model, index: int) -> MemberConfig:
    dense = sorted(
        (layer for layer in model.layers if re.fullmatch(rf"member_{index}_dense_\d+", layer.name)),
        key=lambda layer: int(layer.name.rsplit("_", 1)[1]),
    )
    drops = [layer for layer in model.layers if re.fullmatch(rf"member_{index}_drop_\d+", layer.name)]
    units = [int(layer.units) for layer in dense]
    acts = [layer.get_config()["activation"] for layer in dense]
    acts = [a if isinstance(a, str) else a.get("config", {}).get("name", "relu") for a in acts]
    reg = dense[0].get_config().get("kernel_regularizer") if dense else None
    l2 = float((reg or {}).get("config", {}).get("l2", 0.0)) if isinstance(reg, dict) else 0.0
    return MemberConfig(
        hidden_layers=max(1, len(dense)),
        hidden_units=units[0] if len(set(units)) == 1 else units,
        activation=acts[0] if len(set(acts)) == 1 else acts,
        dropout_rate=float(drops[0].rate) if drops else 0.0,
        l2=round(l2, 8),
    )


def register_uploaded_model(store, filename: str, data: bytes, *, mnist=None) -> int:
    """Save an uploaded .keras file, check that Fusion Lab made it, and add it to the store as a run.

    The model must load with `fusion_core.models.load_model` and have a 'fused' output and at least
    one 'member_<k>' output; otherwise NotAFusionModel is raised and nothing is kept. With `mnist`
    (fusion_core.data.MnistData) it is scored on the test set so the Runs table shows its accuracy.
    Returns the new run id.
    """
    from fusion_core import paths
    from fusion_core.jobs import model_path_for
    from fusion_core.models import FUSED, load_model

    digest = hashlib.sha256(data).hexdigest()[:16]
    staging = paths.models_dir() / f"upload_{digest}.keras"
    staging.write_bytes(data)
    try:
        try:
            model = load_model(staging)
        except Exception as exc:  # noqa: BLE001 - any failure to load means "not one of ours"
            raise NotAFusionModel(f"it does not load as a Keras model ({type(exc).__name__}: {exc})") from exc
        names = list(getattr(model, "output_names", None) or [])
        if FUSED not in names or not any(n.startswith("member_") for n in names):
            raise NotAFusionModel(f"expected outputs 'member_0', ... and 'fused'. Received: outputs={names}")
        try:
            config = infer_config(model)
        except (ConfigError, ValueError, KeyError, TypeError) as exc:
            raise NotAFusionModel(f"its layers do not describe a Fusion Lab network ({exc})") from exc
    except BaseException:
        staging.unlink(missing_ok=True)
        raise

    run_id = store.create_run(config.to_dict(), name=Path(filename).stem or None, kind="upload")
    target = model_path_for(run_id)
    os.replace(staging, target)
    results: dict[str, Any] = {"uploaded_from": filename}
    if mnist is not None:
        from fusion_core.evaluate import evaluate

        x_test = mnist.x_test.reshape(len(mnist.x_test), -1).astype("float32") / 255.0
        results.update(evaluate(model, x_test, mnist.y_test.astype("int64"), config.fusion.num_members))
    results["model_bytes"] = target.stat().st_size
    store.set_model_path(run_id, str(target))
    store.finish(run_id, "done", results=results)
    return run_id
