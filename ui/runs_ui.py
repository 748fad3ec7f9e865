"""The Runs page's helpers: the runs table, its filters, and the charts that compare runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from fusion_core.registry import FUSED
from ui import words
from ui.i18n import t
from ui.predict_ui import fused_test_accuracy
from ui.run_names import format_percent, origin_label, origin_of, run_title

RUN_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]


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
        kinds = [m.get("kind", "mlp") for m in config["members"] if isinstance(m, dict)]
        arch = "+".join(map(words.kind_name, kinds)) if len(set(kinds)) > 1 else t("words.arch_mixed")
    elif member.get("kind") in ("cnn", "lstm"):
        arch = f"{words.kind_name(member['kind'])} {layers_}×{units}"
    elif isinstance(units, list):
        arch = f"{layers_}×[{', '.join(map(str, units))}]"
    elif layers_ is not None and units is not None:
        arch = f"{layers_}×{units}"
    else:
        arch = None
    activation = member.get("activation")
    results, timings = run.get("results") or {}, run.get("timings") or {}
    accuracy = fused_test_accuracy(run)
    if run.get("kind") == "upload":  # the file does not say how it was trained: unknown, not defaults
        training, results = {}, {k: v for k, v in results.items() if k not in ("epochs_completed", "n_train")}
    return {
        "id": run["id"],
        "name": run_title(run),
        "status": words.named("words.status", run["status"]),  # shown words; filters read the runs' codes
        "type": words.named("words.type", fusion.get("type")) or None,
        "members": fusion.get("num_members"),
        "rule": words.named("words.rule", fusion.get("rule")) or None,
        "arch": arch,
        "activation": ", ".join(activation) if isinstance(activation, list) else activation,
        "epochs": results.get("epochs_completed", training.get("epochs")),
        "train_size": results.get("n_train", training.get("train_size")),
        "accuracy": None if accuracy is None else round(100 * accuracy, 4),  # shown as 97.53%
        "sec_epoch": timings.get("seconds_per_epoch"),
        "created": datetime.fromtimestamp(run["created_at"]) if run.get("created_at") else None,
        "kind": origin_label(origin_of(run)),
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
        "epochs": cc.NumberColumn(
            t("runs.col.epochs"), format="%.4g", width="small", help=t("runs.unknown_help")
        ),
        "train_size": cc.NumberColumn(
            t("runs.col.train_size"), format="%d", width="small", help=t("runs.unknown_help")
        ),
        "accuracy": cc.NumberColumn(t("runs.col.accuracy"), format="%.2f%%"),  # as format_percent
        "sec_epoch": cc.NumberColumn(t("runs.col.sec_epoch"), format="%.2f", width="small"),
        "created": cc.DatetimeColumn(t("runs.col.created"), format="YYYY-MM-DD HH:mm", width="medium"),
        "kind": cc.TextColumn(t("runs.col.kind"), width="small"),
    }


def filter_runs(
    runs: list[dict],
    *,
    statuses: list[str] | None = None,
    types: list[str] | None = None,
    origins: list[str] | None = None,
    search: str = "",
) -> list[dict]:
    """Runs with a chosen status, fusion type and origin code (none chosen = all) whose name, stored
    or as shown, contains `search`."""
    needle = search.strip().lower()
    kept = []
    for run in runs:
        fusion_type = ((run.get("config") or {}).get("fusion") or {}).get("type")
        if statuses and run["status"] not in statuses:
            continue
        if types and fusion_type not in types:
            continue
        if origins and origin_of(run) not in origins:
            continue
        if needle and needle not in run["name"].lower() and needle not in run_title(run).lower():
            continue
        kept.append(run)
    return kept


@dataclass(frozen=True)
class FusedCurve:
    """One run's fused points (epoch, loss, accuracy) and their split: 'val', or 'train' for a run
    that kept no validation hold-out (validation_fraction 0, as in the article's code)."""

    points: pd.DataFrame
    split: str = "val"

    @property
    def empty(self) -> bool:
        return self.points.empty


def fused_curve(store, run_id: int) -> FusedCurve:
    """The fusion's validation points of one run, or its training points when it has none."""
    metrics = store.metrics(run_id)
    for split in ("val", "train"):
        rows = [m for m in metrics if m["split"] == split and m["series"] == FUSED]
        if rows:
            return FusedCurve(pd.DataFrame(rows, columns=["epoch", "loss", "accuracy"]), split)
    return FusedCurve(pd.DataFrame())


def run_color(index: int) -> str:
    """The colour of the index-th compared run, the same in every comparison chart."""
    return RUN_COLORS[index % len(RUN_COLORS)]


def curves_title(curves: dict[str, FusedCurve], metric: str) -> str:
    """'Fused validation accuracy', or a title that says some lines are training curves."""
    if any(c.split == "train" for c in curves.values() if not c.empty):
        return t(f"runs.curve_{metric}_with_training")
    return t(f"runs.curve_{metric}")


def fused_curves_figure(curves: dict[str, FusedCurve], metric: str, title: str) -> go.Figure:
    """One line per run (name -> its fused points) of `metric` against epochs.

    A run with no validation hold-out adds its training curve, dotted, its legend entry and hover
    saying so: it scores images the model learns from, so it is no measure of generalisation.
    """
    fig = go.Figure()
    value = "%{y:.2%}" if metric == "accuracy" else "%{y:.4f}"
    for i, (name, curve) in enumerate(curves.items()):
        if curve.empty:
            continue
        training = curve.split == "train"
        label = t("runs.curve_training_name", name=name) if training else name
        note = t("runs.curve_training_hover") if training else t("runs.curve_validation_hover")
        fig.add_scatter(
            x=curve.points["epoch"].tolist(),
            y=curve.points[metric].tolist(),
            mode="lines" if training else "lines+markers",
            name=label,
            line={"color": run_color(i), "dash": "dot" if training else "solid"},
            hovertemplate=f"{value} ({note})",
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
    bars = [
        (f"{run_title(r)} (#{r['id']})", fused_test_accuracy(r), run_color(i)) for i, r in enumerate(runs)
    ]
    bars = [bar for bar in bars if bar[1] is not None]
    fig = go.Figure(
        go.Bar(
            x=[name for name, _, _ in bars],
            y=[accuracy for _, accuracy, _ in bars],
            text=[format_percent(accuracy) for _, accuracy, _ in bars],
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
