""" "Why did the fusion help (or not)?": the diversity numbers of a finished fusion, in a table, a chart
and one sentence; and the side-by-side comparison of identical and mixed members on Learn.

The numbers come from `fusion_core.diversity` via the run's stored results (`results["diversity"]`);
a run stored before they existed has none, and then nothing is drawn. Before a visitor has runs of
their own, Learn shows the reference result the project ships (ui/reference/diversity.json, written
by bench/bench_diversity_reference.py) with its date and settings.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from fusion_core.registry import member_name
from ui import words
from ui.charts import member_kinds, series_label
from ui.i18n import t
from ui.run_names import run_title
from ui.text import safe

REFERENCE_PATH = Path(__file__).resolve().parent / "reference" / "diversity.json"
ALIKE_CORRELATION = 0.6  # above this mean error correlation the members' mistakes mostly coincide


def diversity_of(results: dict | None) -> dict | None:
    """The stored diversity numbers, or None for a single network or a run stored before them."""
    d = (results or {}).get("diversity")
    needed = ("pairs", "mean_disagreement", "mean_error_correlation", "oracle_accuracy")
    if not isinstance(d, dict) or any(key not in d for key in needed):
        return None
    if not {"best_member_accuracy", "fused_accuracy"} <= set(d):
        return None
    return d


def _member(index: int, kinds: list[str] | None) -> str:
    label = series_label(member_name(index))
    if kinds and index < len(kinds) and set(kinds) != {"MLP"}:
        return f"{label} ({kinds[index]})"
    return label


def diversity_table(d: dict, kinds: list[str] | None = None) -> pd.DataFrame:
    """One row per pair of members: disagreement (%) and error correlation."""
    rows = [
        {
            t("diversity.pair"): t("diversity.pair_name", a=_member(p["a"], kinds), b=_member(p["b"], kinds)),
            t("diversity.disagreement"): round(100 * p["disagreement"], 2),
            t("diversity.correlation"): round(p["error_correlation"], 3),
        }
        for p in d["pairs"]
    ]
    return pd.DataFrame(rows)


def diversity_figure(d: dict) -> go.Figure:
    """Best member, fusion and oracle as three bars: where the fusion landed within its reach."""
    names = [t("diversity.bar.best"), t("diversity.bar.fused"), t("diversity.bar.oracle")]
    values = [100 * d["best_member_accuracy"], 100 * d["fused_accuracy"], 100 * d["oracle_accuracy"]]
    low = max(0.0, min(values) - 2.0)  # zoom in: the differences are a few tenths of a point
    figure = go.Figure(
        go.Bar(
            x=names,
            y=values,
            text=[f"{v:.2f}%" for v in values],
            textposition="outside",
            marker_color=["#8c8c8c", "#d62728", "#2ca02c"],
        )
    )
    figure.update_layout(
        yaxis={"title": t("diversity.axis"), "range": [low, min(100.0, max(values) + 1.0)]},
        height=300,
        margin={"l": 10, "r": 10, "t": 20, "b": 10},
    )
    return figure


def diversity_sentence(d: dict) -> str:
    """The numbers in words: do the members err alike, and how much of the reachable room the fusion took."""
    corr = d["mean_error_correlation"]
    dis = d["mean_disagreement"]
    first = t("diversity.alike" if corr >= ALIKE_CORRELATION else "diversity.different", corr=corr, dis=dis)
    best, fused, oracle = d["best_member_accuracy"], d["fused_accuracy"], d["oracle_accuracy"]
    room = oracle - best
    if room <= 0:
        return f"{first} {t('diversity.no_room', oracle=oracle, best=best, fused=fused)}"
    gained = fused - best
    share = t("diversity.share_used", share=gained / room) if gained >= 0 else t("diversity.share_lost")
    second = t("diversity.headroom", oracle=oracle, room=100 * room, best=best, fused=fused, share=share)
    return f"{first} {second}"


def diversity_panel(results: dict | None, kinds: list[str] | None = None) -> bool:
    """Draw the panel under a fusion's results; False (and nothing drawn) when there are no numbers."""
    d = diversity_of(results)
    if d is None:
        return False
    st.subheader(t("diversity.title"), divider="gray", help=t("diversity.help"))
    table_col, chart_col = st.columns(2, gap="large")
    with table_col:
        st.dataframe(diversity_table(d, kinds), hide_index=True)
        st.markdown(diversity_sentence(d))
    chart_col.plotly_chart(diversity_figure(d), key="diversity_bars")
    return True


# -- Learn: identical against mixed members ---------------------------------------------------------


def _kinds_of(run: dict) -> list[str]:
    return member_kinds(run)


def comparison_runs(runs: list[dict]) -> dict[str, dict | None]:
    """The newest finished fusion of identical MLP members and the newest of mixed kinds (None if absent).

    `runs` newest first, as `RunStore.list_runs` returns them; only runs with diversity numbers count.
    """
    found: dict[str, dict | None] = {"identical": None, "mixed": None}
    for run in runs:
        if run.get("status") != "done" or diversity_of(run.get("results")) is None:
            continue
        kinds = _kinds_of(run)
        if len(kinds) < 2:
            continue
        group = "identical" if set(kinds) == {"MLP"} else "mixed" if len(set(kinds)) > 1 else None
        if group and found[group] is None:
            found[group] = run
    return found


def _metrics(d: dict) -> None:
    """A comparison side's numbers and the sentence that reads them."""
    st.markdown(
        t(
            "learn.diversity.metrics",
            dis=d["mean_disagreement"],
            corr=d["mean_error_correlation"],
            best=d["best_member_accuracy"],
            fused=d["fused_accuracy"],
            oracle=d["oracle_accuracy"],
        )
    )
    st.caption(diversity_sentence(d))


def comparison_column(run: dict | None, group: str) -> None:
    """One side of Learn's comparison: the run's numbers, or what to train to fill it."""
    if run is None:
        st.info(t(f"learn.diversity.missing_{group}"))
        return
    d = diversity_of(run["results"])
    kinds = " + ".join(_kinds_of(run))
    name = safe(run_title(run))  # a visitor's run name is shown as text, never as Markdown
    st.markdown(f"**{t(f'learn.diversity.{group}', run_id=run['id'], name=name, kinds=kinds)}**")
    _metrics(d)


# -- Learn: the shipped reference result ------------------------------------------------------------

GROUPS = ("identical", "mixed")


def reference_result(path: Path = REFERENCE_PATH) -> dict | None:
    """The shipped reference ({date, machine, runs: {identical, mixed}}), or None if absent or unusable."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data.get("date"), str):
            return None
        for group in GROUPS:
            run = data["runs"][group]
            if diversity_of(run) is None or not isinstance(run.get("config"), dict):
                return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return data


def reference_column(reference: dict, group: str) -> None:
    """One side of Learn's comparison from the reference result, with its date and settings."""
    run = reference["runs"][group]
    d = diversity_of(run)
    kinds = " + ".join(_kinds_of({"config": run["config"]}))
    training = run["config"].get("training", {})
    st.markdown(f"**{t(f'learn.diversity.reference.{group}', kinds=kinds)}**")
    _metrics(d)
    st.caption(
        t(
            "learn.diversity.reference.settings",
            date=reference["date"],
            images=int(run.get("n_train") or training.get("train_size") or 0),
            epochs=training.get("epochs", "?"),
            batch=training.get("batch_size", "?"),
            seed=training.get("seed", "?"),
            seconds=run.get("seconds", "?"),
            machine=safe(words.machine(str(reference.get("machine", "")))),
        )
    )


def comparison_section(runs: list[dict], reference: dict | None = None) -> dict[str, dict | None]:
    """Learn's side-by-side: each side from the visitor's newest run of that group, else from the
    reference result (`reference_result()` unless given). Returns the visitor's runs by group."""
    compared = comparison_runs(runs)
    reference = reference if reference is not None else reference_result()
    own = any(compared[g] is not None for g in GROUPS)
    if not own:
        st.markdown(t("learn.diversity.try"))
        if reference is None:
            return compared
        st.markdown(t("learn.diversity.reference.note", date=reference["date"]))
    for column, group in zip(st.columns(2, gap="large"), GROUPS, strict=True):
        with column:
            if compared[group] is not None or reference is None:
                comparison_column(compared[group], group)
            else:
                reference_column(reference, group)
    return compared
