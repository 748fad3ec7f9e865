"""Chart and table builders of the experiment labs: plain rows in, Plotly figures and DataFrames out.

No Streamlit here, so every builder is unit-tested on plain dicts. Each builder draws an empty,
labelled chart when it has nothing yet. Colours follow codes, never translated labels: a fusion type
has one colour (CONFIG_COLOURS), and an overfitting variant has the colour `variant_colours` gives its
code in every chart of the page.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import pandas as pd
import plotly.graph_objects as go

from fusion_core.experiments import COST_AXES
from fusion_core.registry import FUSED, output_names
from ui.charts import CHART_HEIGHT, FUSED_COLOUR, MODEBAR, RUN_COLOURS, series_label
from ui.i18n import t
from ui.text import plain
from ui.words import describe_config

CONFIG_COLOURS = {"single": "#1F77B4", "parallel": "#D62728", "serial": "#2CA02C", "hybrid": "#9467BD"}
SWEEP_TICKS = (100, 250, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000)
PLAIN_COLOUR = "#D62728"  # the unregularised network, red in every chart of the Overfitting page
VARIANT_COLOURS = tuple(c for c in RUN_COLOURS if c != PLAIN_COLOUR)
COST_SCALE = {"model_bytes": 1e-3}  # file sizes in kB, the unit of the cost table
LABEL_SHIFT_PX = 18  # a front label's distance from its point, above and below in turn


def config_label(name: str, *, short: bool = False) -> str:
    """'parallel' -> 'parallel ×5 (soft vote)' (or 'parallel ×5' when `short`)."""
    return t(f"labs.config_short.{name}" if short else f"labs.config.{name}")


def short_count(n: int) -> str:
    """250 -> '250', 5000 -> '5k', 54000 -> '54k'."""
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else f"{n:,}"


def short_number(value: float) -> str:
    """1500 -> '1.5k', 2_000_000 -> '2M', 0.5 -> '0.5': tick labels for counts, seconds and bytes."""
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:g}{suffix}"
    return f"{value:g}"


def log_ticks(low: float, high: float) -> list[float]:
    """The 1-2-5 values from just below `low` to just above `high`, for a log axis's ticks."""
    ticks = []
    for exponent in range(math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 1):
        ticks.extend(m * 10.0**exponent for m in (1, 2, 5))
    inside = [v for v in ticks if low / 1.5 <= v <= high * 1.5]
    return inside or [low, high]


def _layout(fig: go.Figure, title: str, *, x_title: str, y_title: str, empty_hint: str | None) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.0, "xanchor": "left"},
        height=CHART_HEIGHT + 40,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"orientation": "h", "yanchor": "top", "y": -0.22, "xanchor": "left", "x": 0.0},
        modebar=MODEBAR,
        xaxis_title=x_title,
        yaxis_title=y_title,
        hovermode="closest",
    )
    if empty_hint:
        fig.add_annotation(
            text=empty_hint,
            x=0.5,
            y=0.5,
            xref="paper",
            yref="paper",
            showarrow=False,
            font={"size": 14, "color": "#6B7280"},
        )
    return fig


# -- data size -------------------------------------------------------------------------------------


def _sweep_trace(rows: list[dict], name: str, split: str) -> go.Scatter | None:
    mean, std = f"{split}_accuracy_mean", f"{split}_accuracy_std"
    rows = [r for r in rows if r[mean] is not None]
    if not rows:
        return None
    test = split == "test"
    label = f"{config_label(name)} · {t('labs.test' if test else 'labs.training')}"
    colour = CONFIG_COLOURS.get(name, FUSED_COLOUR)
    return go.Scatter(
        x=[r["train_size"] for r in rows],
        y=[r[mean] for r in rows],
        error_y={"type": "data", "array": [r[std] or 0.0 for r in rows], "visible": True, "thickness": 1.2},
        customdata=[[r["seeds"], r[std] or 0.0] for r in rows],
        mode="lines+markers",
        name=label,
        legendgroup=name,
        line={"color": colour, "width": 3 if test else 1.8, "dash": "solid" if test else "dash"},
        marker={"size": 8 if test else 6, "color": colour, "symbol": "circle" if test else "circle-open"},
        hovertemplate=f"<b>{label}</b><br>" + t("labs.sweep.hover"),
    )


def sweep_figure(summary: Sequence[dict]) -> go.Figure:
    """Test accuracy (solid, with ± std error bars) and training accuracy (dashed, same colour) per
    configuration against the number of training images, on a log x axis. `summary` is
    experiments.summarise_sweep's output."""
    fig = go.Figure()
    for name in dict.fromkeys(r["config_name"] for r in summary):
        rows = sorted((r for r in summary if r["config_name"] == name), key=lambda r: r["train_size"])
        for split in ("test", "train"):
            trace = _sweep_trace(rows, name, split)
            if trace is not None:
                fig.add_trace(trace)
    fig.update_xaxes(type="log", tickvals=list(SWEEP_TICKS), ticktext=[short_count(v) for v in SWEEP_TICKS])
    fig.update_yaxes(tickformat=".0%")
    if not summary:
        fig.update_xaxes(range=[math.log10(80), math.log10(70_000)])
        fig.update_yaxes(range=[0.5, 1.0])
    title = t("labs.sweep.title")
    empty = None if summary else t("labs.sweep.empty")
    return _layout(fig, title, x_title=t("labs.sweep.x"), y_title=t("labs.accuracy"), empty_hint=empty)


def _pct(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(100 * value, digits)


def _mean_std(mean: float | None, std: float | None) -> str | None:
    """0.7462, 0.0326 -> '74.6 ± 3.3' (percent); a single seed has no spread to show."""
    if mean is None:
        return None
    return f"{100 * mean:.1f} ± {100 * std:.1f}" if std else f"{100 * mean:.1f}"


def sweep_table(summary: Iterable[dict]) -> pd.DataFrame:
    """summarise_sweep's rows to read: accuracies in percent as 'mean ± std', and the train-test gap."""
    rows = []
    for r in summary:
        train, test = r["train_accuracy_mean"], r["test_accuracy_mean"]
        rows.append(
            {
                t("labs.col.config"): config_label(r["config_name"], short=True),
                t("labs.col.images"): r["train_size"],
                t("labs.col.seeds"): r["seeds"],
                t("labs.col.test"): _mean_std(test, r["test_accuracy_std"]),
                t("labs.col.train"): _mean_std(train, r["train_accuracy_std"]),
                t("labs.col.gap"): _pct(train - test, 1) if train is not None and test is not None else None,
            }
        )
    columns = [t(f"labs.col.{c}") for c in ("config", "images", "seeds", "test", "train", "gap")]
    return pd.DataFrame(rows, columns=columns)


def sweep_csv(summary: Iterable[dict]) -> str:
    """summarise_sweep's rows as CSV, every number as measured (fractions, not percent)."""
    columns = ["config_name", "train_size", "seeds", "test_accuracy_mean", "test_accuracy_std",
               "train_accuracy_mean", "train_accuracy_std"]  # fmt: skip
    return pd.DataFrame(list(summary), columns=columns).to_csv(index=False)


# -- overfitting -----------------------------------------------------------------------------------


def variant_label(config: dict, default_epochs: int = 30) -> str:
    """What was switched on in an overfitting run: 'plain', 'dropout + fusion ×5', '... (10 epochs)'."""
    members, training = config.get("member") or {}, config.get("training") or {}
    fusion = config.get("fusion") or {}
    parts = [
        t("labs.variant.normal") if members.get("initializer") == "normal" else "",
        t("labs.variant.dropout") if members.get("dropout_rate") else "",
        t("labs.variant.l2") if members.get("l2") else "",
        t("labs.variant.early") if training.get("early_stopping_patience") else "",
        t("labs.variant.fusion", k=fusion.get("num_members"))
        if fusion.get("type", "single") != "single"
        else "",
    ]
    label = " + ".join(p for p in parts if p) or t("labs.variant.plain")
    epochs = training.get("epochs")
    return (
        t("labs.variant.epochs", label=label, epochs=epochs)
        if epochs not in (None, default_epochs)
        else label
    )


def variant_code(config: dict) -> str:
    """What was switched on in an overfitting run, as a code: 'plain', 'dropout+fusion5', ... '@10'
    when it trained for other than 30 epochs. The identity behind `variant_label`'s words."""
    members, training = config.get("member") or {}, config.get("training") or {}
    fusion = config.get("fusion") or {}
    parts = [
        "normal" if members.get("initializer") == "normal" else "",
        "dropout" if members.get("dropout_rate") else "",
        "l2" if members.get("l2") else "",
        "early" if training.get("early_stopping_patience") else "",
        f"fusion{fusion.get('num_members')}" if fusion.get("type", "single") != "single" else "",
    ]
    code = "+".join(p for p in parts if p) or "plain"
    epochs = training.get("epochs")
    return f"{code}@{epochs}" if epochs not in (None, 30) else code


def variant_colours(codes: Iterable[str]) -> dict[str, str]:
    """One colour per variant code, the same in every chart: plain red, the others in code order."""
    others = sorted(c for c in set(codes) if c != "plain")
    colours = {c: VARIANT_COLOURS[i % len(VARIANT_COLOURS)] for i, c in enumerate(others)}
    return {"plain": PLAIN_COLOUR, **colours}


def gap_figure(rows: Sequence[dict]) -> go.Figure:
    """One horizontal bar per variant: training minus test accuracy in percentage points, each bar in
    its variant's colour (`variant_colours` of the rows' `code`, plain red).

    A row: variant, code, train_accuracy, test_accuracy (fractions)."""
    rows = [r for r in rows if r.get("train_accuracy") is not None and r.get("test_accuracy") is not None]
    gaps = [100 * (r["train_accuracy"] - r["test_accuracy"]) for r in rows]
    colours = variant_colours(r.get("code", "plain") for r in rows)
    fig = go.Figure(
        go.Bar(
            x=gaps,
            y=[r["variant"] for r in rows],
            orientation="h",
            text=[t("labs.gap.text", gap=g) for g in gaps],
            textposition="outside",
            cliponaxis=False,
            customdata=[[r["train_accuracy"], r["test_accuracy"]] for r in rows],
            marker_color=[colours[r.get("code", "plain")] for r in rows],
            hovertemplate=t("labs.gap.hover"),
        )
    )
    fig.update_yaxes(autorange="reversed")  # the first variant (plain) on top
    fig.update_xaxes(range=[min([0.0, *gaps]) * 1.25, max([15.0, *gaps]) * 1.2])  # room for the labels
    title = t("labs.gap.title")
    empty = None if rows else t("labs.gap.empty")
    return _layout(fig, title, x_title=t("labs.gap.y"), y_title="", empty_hint=empty)


def gap_table(rows: Iterable[dict]) -> pd.DataFrame:
    """Variant, run, epochs and the training, validation and test accuracies (%) with the gap."""
    out = []
    for r in rows:
        train, test = r.get("train_accuracy"), r.get("test_accuracy")
        out.append(
            {
                t("labs.col.variant"): r["variant"],
                t("labs.col.run"): r["run_id"],
                t("labs.col.epochs"): r.get("epochs"),
                t("labs.col.train"): _pct(train),
                t("labs.col.val"): _pct(r.get("val_accuracy")),
                t("labs.col.test"): _pct(test),
                t("labs.col.gap"): _pct(train - test, 1) if train is not None and test is not None else None,
            }
        )
    return pd.DataFrame(out)


# -- robustness ------------------------------------------------------------------------------------


def robustness_figure(
    curves: dict[str, list[dict]],
    *,
    label: str,
    unit: str,
    members: bool = False,
    strengths: Sequence[float] = (),
) -> go.Figure:
    """Accuracy against perturbation strength: one colour per run, its fusion bold and its members
    (when `members`) thin and dotted. `curves` maps a run's label to robustness_curve rows; the x
    axis spans `strengths` (the perturbation's sweep) even before any curve is drawn."""
    fig = go.Figure()
    n = 0
    for i, (run, rows) in enumerate(curves.items()):
        colour = RUN_COLOURS[i % len(RUN_COLOURS)]
        outputs = list(dict.fromkeys(r["output"] for r in rows))
        single = outputs == output_names(1)
        shown = [o for o in outputs if o == FUSED or (members and not single)]
        for output in sorted(shown, key=lambda o: o == FUSED):  # members first, so the fusion is on top
            fused = output == FUSED
            points = sorted((r for r in rows if r["output"] == output), key=lambda r: r["strength"])
            n += len(points) if fused else 0
            name = run if fused else t("labs.robust.member", run=run, member=series_label(output))
            first_member = not fused and output == next(o for o in shown if o != FUSED)
            fig.add_trace(
                go.Scatter(
                    x=[p["strength"] for p in points],
                    y=[p["accuracy"] for p in points],
                    name=run if fused else t("labs.robust.members", run=run),
                    legendgroup=run,
                    showlegend=fused or first_member,  # one legend entry for all of a run's members
                    mode="lines+markers" if fused else "lines",
                    line={
                        "color": colour,
                        "width": 3.5 if fused else 1.5,
                        "dash": "solid" if fused else "dot",
                    },
                    opacity=1.0 if fused else 0.6,
                    hovertemplate=f"<b>{name}</b><br>%{{x:g}} {unit}: %{{y:.1%}}<extra></extra>",
                )
            )
    fig.update_yaxes(tickformat=".0%", range=[0, 1.02])
    if strengths:
        low, high = min(strengths), max(strengths)
        pad = (high - low) * 0.03 or 1.0
        fig.update_xaxes(range=[low - pad, high + pad])
    title = t("labs.robust.title", label=label.lower())
    empty = None if n else t("labs.robust.empty")
    x_title = t("labs.robust.x", label=label, unit=unit)
    return _layout(fig, title, x_title=x_title, y_title=t("labs.accuracy"), empty_hint=empty)


# -- cost of fusion --------------------------------------------------------------------------------


def _description(row: dict) -> str:
    """A cost row's configuration in the visitor's language (the engine's English if it does not parse)."""
    return describe_config(row.get("config")) or row["description"]


def cost_axis(cost: str) -> str:
    """A cost axis's words ('model file size (kB)'), from the catalog; the engine's name is a code."""
    if cost not in COST_AXES:
        raise ValueError(f"cost must be one of {', '.join(COST_AXES)}. Received: cost={cost!r}")
    return t(f"charts.cost.axis.{cost}")


def cost_value(row: dict, cost: str) -> float:
    """The row's cost in the unit the chart and the table show (file sizes in kB)."""
    return row[cost] * COST_SCALE.get(cost, 1.0)


def cost_figure(rows: Sequence[dict], cost: str) -> go.Figure:
    """Test accuracy against a cost (log x), one colour per fusion type; the Pareto front (rows with
    `pareto`, from experiments.mark_pareto) drawn large, joined by a line and labelled, the labels
    above and below their points in turn so that neighbours do not overlap."""
    axis = cost_axis(cost)
    fig = go.Figure()
    front = sorted((r for r in rows if r.get("pareto")), key=lambda r: (r[cost], -r["test_accuracy"]))
    if front:
        fig.add_trace(
            go.Scatter(
                x=[cost_value(r, cost) for r in front],
                y=[r["test_accuracy"] for r in front],
                mode="lines",
                line={"color": "#6B7280", "width": 1.5, "dash": "dash", "shape": "hv"},
                name=t("labs.cost.front"),
                hoverinfo="skip",
            )
        )
    for i, r in enumerate(front):  # labels on a light box, so the front line does not run through them
        fig.add_annotation(
            x=math.log10(cost_value(r, cost)),  # annotations on a log axis take the exponent
            y=r["test_accuracy"],
            text=_description(r),
            showarrow=False,
            yshift=LABEL_SHIFT_PX if i % 2 == 0 else -LABEL_SHIFT_PX,
            font={"size": 11, "color": "#111827"},
            bgcolor="rgba(255,255,255,0.85)",
        )
    for fusion_type in dict.fromkeys(r["fusion_type"] for r in rows):
        for on_front in (True, False):
            chosen = [
                r for r in rows if r["fusion_type"] == fusion_type and bool(r.get("pareto")) == on_front
            ]
            if not chosen:
                continue
            colour = CONFIG_COLOURS.get(fusion_type, FUSED_COLOUR)
            fig.add_trace(
                go.Scatter(
                    x=[cost_value(r, cost) for r in chosen],
                    y=[r["test_accuracy"] for r in chosen],
                    mode="markers",
                    name=f"{t(f'config.type.{fusion_type}')} · "
                    f"{t('labs.cost.front' if on_front else 'labs.cost.other')}",
                    legendgroup=fusion_type,
                    marker={
                        "color": colour,
                        "size": 15 if on_front else 9,
                        "symbol": "diamond" if on_front else "circle",
                        "line": {"color": "#111827", "width": 1.5 if on_front else 0},
                    },
                    customdata=[[plain(r["name"]), _description(r)] for r in chosen],
                    hovertemplate=t("labs.cost.hover", axis=axis),
                )
            )
    fig.update_xaxes(type="log")
    costs = [cost_value(r, cost) for r in rows if r[cost] > 0]
    if costs:  # room either side for the labels of the cheapest and the dearest run
        low, high = min(costs), max(costs)
        ticks = log_ticks(low, high)
        fig.update_xaxes(range=[math.log10(low) - 0.15, math.log10(high) + 0.15], tickvals=ticks,
                         ticktext=[short_number(v) for v in ticks])  # fmt: skip
    fig.update_yaxes(tickformat=".1%")
    title = t("labs.cost.title", axis=axis)
    empty = None if rows else t("labs.cost.empty")
    return _layout(
        fig, title, x_title=t("labs.cost.x", axis=axis), y_title=t("labs.accuracy"), empty_hint=empty
    )


def cost_table(rows: Iterable[dict]) -> pd.DataFrame:
    """cost_rows (with `pareto`) as a readable table: costs, test accuracy (%) and front membership."""
    out = []
    for r in rows:
        out.append(
            {
                t("labs.col.run"): r["run_id"],
                t("labs.cost.col.description"): _description(r),
                t("labs.cost.col.params_total"): r["params_total"],
                t("labs.cost.col.seconds_per_epoch"): round(r["seconds_per_epoch"], 2),
                t("labs.cost.col.latency_ms"): round(r["latency_ms"], 3),
                t("labs.cost.col.model_bytes"): round(r["model_bytes"] / 1000, 1),
                t("labs.col.test"): _pct(r["test_accuracy"]),
                t("labs.cost.col.pareto"): bool(r.get("pareto")),
            }
        )
    return pd.DataFrame(out)
