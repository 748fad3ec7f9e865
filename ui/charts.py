"""Chart and table builders: pure functions from stored rows and results to Plotly figures.

No Streamlit here, so each builder can be unit-tested on plain dicts. Rows have the run store's flat
shape: {"split", "series", "step", "epoch", "seen", "elapsed", "loss", "accuracy"}.

Live curves are redrawn twice a second, so their figures keep one shape: the two style keys first,
then each member's training and validation traces, the fusion last (drawn on top). Each trace's `meta`
is its code ('member_2:val'), never its translated name. A trace keeps at most MAX_TRACE_POINTS points
(evenly thinned, its first and last kept): a 30-epoch run of 5 members has 15,000 rows, whose full
figures took 0.75 s to build and serialise per poll and 1.3 MB to send; thinned, a few milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from fusion_core.registry import FUSED, member_index, member_name, output_names, output_order
from ui.i18n import t

MEMBER_COLOURS = (
    "#4C78A8",
    "#F58518",
    "#54A24B",
    "#B279A2",
    "#E45756",
    "#72B7B2",
    "#EECA3B",
    "#9D755D",
    "#FF9DA6",
    "#BAB0AC",
)
FUSED_COLOUR = "#111827"
RUN_COLOURS = (
    "#1F77B4",
    "#D62728",
    "#2CA02C",
    "#9467BD",
    "#FF7F0E",
    "#17BECF",
    "#8C564B",
    "#E377C2",
    "#7F7F7F",
    "#BCBD22",
)
CHART_HEIGHT = 380
MAX_TRACE_POINTS = 400  # per trace: more than a chart half a page wide can show apart
# The modebar stands on the right, upright, so it never covers a title (they start on the left).
MODEBAR = {"orientation": "v"}
LEGEND_BELOW = {"orientation": "h", "yanchor": "top", "y": -0.2, "xanchor": "left", "x": 0.0}


def series_label(series: str, *, single: bool = False) -> str:
    """'member_2' -> 'Member 3', 'fused' -> 'Fused' (a single network is just 'Network')."""
    if single:
        return t("charts.series.network")
    if series == FUSED:
        return t("charts.series.fused")
    index = member_index(series)
    return t("charts.series.member", n=index + 1) if index is not None else series


def _series_order(names: Iterable[str]) -> list[str]:
    """Members by number (member_10 after member_9), then the fused output last."""
    return sorted(set(names), key=output_order)


def member_colour(series: str) -> str:
    if series == FUSED:
        return FUSED_COLOUR
    index = member_index(series) or 0
    return MEMBER_COLOURS[index % len(MEMBER_COLOURS)]


def _valid(rows: list[dict], metric: str, x: str) -> list[dict]:
    return [
        r for r in rows if r.get(metric) is not None and r.get(x) is not None and r.get("split") != "test"
    ]


def thin(points: list[dict], limit: int = MAX_TRACE_POINTS) -> list[dict]:
    """At most `limit` of `points`, evenly spread, the first and the last always kept."""
    if len(points) <= limit:
        return points
    stride = (len(points) - 1) / (limit - 1)
    return [points[round(i * stride)] for i in range(limit)]


def _by_trace(points: list[dict], x: str) -> dict[tuple[str, str], list[dict]]:
    """(series, split) -> its points sorted along x: one pass over the rows, not one per trace."""
    traces: dict[tuple[str, str], list[dict]] = {}
    for r in points:
        traces.setdefault((r["series"], r["split"]), []).append(r)
    for chosen in traces.values():
        chosen.sort(key=lambda r: (r[x], r.get("step") or 0))
    return traces


def _layout(fig: go.Figure, *, metric: str, x: str, title: str, empty: bool) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.0, "xanchor": "left"},
        height=CHART_HEIGHT,
        margin={"l": 10, "r": 40, "t": 50, "b": 10},
        hovermode="closest",
        legend={**LEGEND_BELOW, "font": {"size": 12}},
        modebar=MODEBAR,
        xaxis_title=t(f"charts.x.{x}"),
        yaxis_title=t(f"charts.metric.{metric}"),
    )
    if metric == "accuracy":
        fig.update_yaxes(tickformat=".0%")
    if empty:
        fig.update_xaxes(range=[0, 1], showticklabels=False)
        fig.update_yaxes(range=[0, 1])
        fig.add_annotation(
            text=t("charts.empty_hint"),
            x=0.5,
            y=0.5,
            xref="paper",
            yref="paper",
            showarrow=False,
            font={"size": 14, "color": "#6B7280"},
        )
    return fig


def _hover(label: str, metric: str) -> str:
    value = "%{y:.2%}" if metric == "accuracy" else "%{y:.4f}"
    point = t("words.hover.point")
    return f"<b>{label}</b><br>{t(f'words.hover.{metric}')} {value}<br>{point}<extra></extra>"


def _trace(
    points: list[dict],
    *,
    metric: str,
    x: str,
    name: str,
    colour: str,
    split: str,
    bold: bool,
    group: str,
    show_legend: bool,
    code: str,
) -> go.Scatter:
    val = split == "val"
    points = thin(points)
    return go.Scatter(
        meta=code,
        x=[p[x] for p in points],
        y=np.array([p[metric] for p in points], dtype=float),
        # Arrays, not lists: Plotly validates a list element by element, which cost 0.6 s of the
        # 0.7 s that 12 traces of 400 points took to build. x stays a list (the browser tests read it).
        customdata=np.array(
            [[p.get("step") or 0, p.get("epoch") or 0.0, p.get("seen") or 0] for p in points], dtype=float
        ).reshape(-1, 3),
        name=name,
        legendgroup=group,
        showlegend=show_legend,
        mode="lines+markers" if val else "lines",
        line={
            "color": colour,
            "width": (3.5 if bold else 1.6) if not val else (3 if bold else 1.6),
            "dash": "dash" if val else "solid",
        },
        marker={"size": 6 if bold else 4, "color": colour},
        opacity=1.0 if bold else 0.85,
        hovertemplate=_hover(f"{name} · {t(f'charts.split.{split}')}", metric),
    )


def _style_keys(fig: go.Figure, splits: set[str]) -> None:
    """Grey legend entries that explain the line styles once instead of once per series.

    Only the splits drawn: a run without a validation set (the article's code) has no dashed curve.
    """
    for split, dash in (("train", "solid"), ("val", "dash")):
        if split not in splits:
            continue
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="lines",
                name=t(f"charts.split.{split}"),
                legendgroup=f"style_{split}",
                line={"color": "#9CA3AF", "dash": dash, "width": 2},
                hoverinfo="skip",
            )
        )


def curves_figure(rows: list[dict], *, metric: str, x: str = "step", title: str) -> go.Figure:
    """Training (solid) and validation (dashed) curves, one colour per member, the fusion bold, dark
    and drawn last (on top of its members)."""
    if metric not in ("loss", "accuracy"):
        raise ValueError(f"metric must be 'loss' or 'accuracy'. Received: metric={metric!r}")
    if x not in ("step", "seen", "epoch"):
        raise ValueError(f"x must be 'step', 'seen' or 'epoch'. Received: x={x!r}")
    points = _valid(rows, metric, x)
    fig = go.Figure()
    if points:  # first, so the fusion's curves are the last traces drawn
        _style_keys(fig, {r["split"] for r in points})
    traces = _by_trace(points, x)
    names = _series_order(series for series, _ in traces)
    single = names == output_names(1)
    for series in names:
        if single and series == FUSED:  # a single network's fused output is the network itself
            continue
        label = series_label(series, single=single)
        for split in ("train", "val"):
            chosen = traces.get((series, split))
            if chosen:
                fig.add_trace(
                    _trace(
                        chosen,
                        metric=metric,
                        x=x,
                        name=label,
                        colour=member_colour(series),
                        split=split,
                        bold=series == FUSED or single,
                        group=series,
                        show_legend=split == "train",
                        code=f"{series}:{split}",
                    )
                )
    return _layout(fig, metric=metric, x=x, title=title, empty=not points)


def overlay_figure(
    runs_rows: dict[str, list[dict]],
    metric: str,
    *,
    x: str = "epoch",
    title: str | None = None,
    colours: dict[str, str] | None = None,
) -> go.Figure:
    """The fused curves of several runs on one chart: one colour per run, validation dashed.

    `colours` (label -> colour) gives a run the colour it has in the page's other charts; a run it
    does not name takes RUN_COLOURS by its place."""
    fig = go.Figure()
    total = 0
    if any(runs_rows.values()):
        _style_keys(fig, {r["split"] for rows in runs_rows.values() for r in _valid(rows, metric, x)})
    for i, (label, rows) in enumerate(runs_rows.items()):
        points = [r for r in _valid(rows, metric, x) if r["series"] == FUSED]
        total += len(points)
        colour = (colours or {}).get(label) or RUN_COLOURS[i % len(RUN_COLOURS)]
        for split in ("train", "val"):
            chosen = sorted((r for r in points if r["split"] == split), key=lambda r: r[x])
            if chosen:
                fig.add_trace(
                    _trace(
                        chosen,
                        metric=metric,
                        x=x,
                        name=label,
                        colour=colour,
                        split=split,
                        bold=False,
                        group=label,
                        show_legend=split == "train" or not any(p["split"] == "train" for p in points),
                        code=f"{i}:{split}",
                    )
                )
    base = title or t("charts.overlay.title", metric=t(f"charts.metric.{metric}"))
    return _layout(fig, metric=metric, x=x, title=base, empty=not total)


def confusion_figure(matrix, *, title: str | None = None) -> go.Figure:
    """Counts per (true, predicted) pair; the colour is log-scaled so the few mistakes stay visible."""
    counts = np.asarray(matrix, dtype=np.int64)
    labels = [str(i) for i in range(counts.shape[0])]
    fig = go.Figure(
        go.Heatmap(
            z=np.log1p(counts),
            x=labels,
            y=labels,
            text=counts,
            texttemplate="%{text}",
            textfont={"size": 11},
            colorscale="Blues",
            showscale=False,
            hovertemplate=t("charts.confusion.hover") + "<extra></extra>",
        )
    )
    fig.update_layout(
        title={"text": title or t("charts.confusion.title"), "x": 0.0, "xanchor": "left"},
        modebar=MODEBAR,
        height=440,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        xaxis={"title": t("charts.confusion.predicted"), "type": "category", "constrain": "domain"},
        yaxis={
            "title": t("charts.confusion.true"),
            "autorange": "reversed",
            "type": "category",
            "scaleanchor": "x",
        },
    )
    return fig


def member_kinds(run: dict | None) -> list[str]:
    """Each member's kind label ('MLP', 'CNN', 'LSTM') from a stored run's config; [] when unreadable."""
    from fusion_core.config import RunConfig
    from fusion_core.registry import MEMBER_KINDS

    try:
        config = RunConfig.from_dict(dict((run or {}).get("config") or {}))
        return [MEMBER_KINDS[kind].label for kind in config.kinds()]
    except (ValueError, TypeError, KeyError):  # an old or damaged row: the members go unlabelled
        return []


def results_table(results: dict, *, single: bool = False, kinds: list[str] | None = None) -> pd.DataFrame:
    """One row per member and one for the fusion: test accuracy (%), test loss, parameters.

    `kinds` (member_kinds of the run) adds each member's kind when the model is not MLPs only."""
    series = results["series"]
    show_kinds = bool(kinds) and set(kinds) != {"MLP"}
    names = [member_name(0)] if single else _series_order(series)
    weights = results.get("member_weights")
    rows = []
    for name in names:
        s = series[name]
        row = {
            t("charts.table.model"): series_label(name, single=single),
            t("charts.table.accuracy"): round(100 * s["test_accuracy"], 2),
            t("charts.table.loss"): round(s["test_loss"], 4),
            # The fused row counts the whole model: every member plus the fusion's own weights.
            t("charts.table.params"): int(
                results.get("params_total", s["params"]) if name == FUSED else s["params"]
            ),
        }
        index = member_index(name)
        if show_kinds:
            row[t("charts.table.kind")] = kinds[index] if index is not None and index < len(kinds) else ""
        if weights:
            row[t("charts.table.weight")] = weights[index] if index is not None else None
        rows.append(row)
    return pd.DataFrame(rows)


def _points(gain: float) -> str:
    """Percentage points with one decimal, or two when one would round a real difference to 0.0."""
    points = abs(gain) * 100
    text = f"{points:.1f}"
    return f"{points:.2f}" if text == "0.0" else text


def gain_sentence(results: dict) -> str:
    """'The fusion is 0.6 points more accurate than its best member (Member 3).' (or less, or equal)."""
    gain = results["gain_over_best_member"]
    best = series_label(results["best_member"])
    if math.isclose(gain, 0.0, abs_tol=1e-12):
        return t("charts.gain.equal", best=best)
    return t("charts.gain.more" if gain > 0 else "charts.gain.less", points=_points(gain), best=best)


def misclassified_gallery(
    results: dict, x_test: np.ndarray, *, limit: int = 24, single: bool = False
) -> list[dict]:
    """The first `limit` test digits the fusion got wrong: {"index", "image" (28x28), "caption"}.

    `x_test` is the test set the run was scored on (raw uint8 or float, any shape with 784 pixels).
    """
    wrong = results.get("misclassified") or {}
    items = []
    for j, index in enumerate(wrong.get("indices", [])[:limit]):
        votes = [member[j] for member in wrong.get("members", [])]
        true, fused = wrong["true"][j], wrong["fused"][j]
        if single:
            caption = t("charts.gallery.caption_single", true=true, fused=fused)
        else:
            caption = t("charts.gallery.caption", true=true, fused=fused, votes=" ".join(map(str, votes)))
        image = np.asarray(x_test[index]).reshape(28, 28)
        if image.dtype != np.uint8:
            image = np.clip(image * (255 if image.max() <= 1.0 else 1), 0, 255).astype(np.uint8)
        items.append(
            {
                "index": int(index),
                "image": image,
                "true": true,
                "fused": fused,
                "votes": votes,
                "caption": caption,
            }
        )
    return items
