"""Robustness: damage the test digits in controlled ways and watch each model's accuracy fall."""

import streamlit as st

from fusion_core.perturb import PERTURBATIONS
from ui.frame import require_frame
from ui.i18n import t
from ui.labs import intro, mnist_or_error, model_mtime, robustness_rows, what_to_look_for
from ui.labs_charts import robustness_figure
from ui.labs_views import default_robust_runs, perturbed_grid, run_label, tag
from ui.predict_ui import finished_runs
from ui.state import get_store
from ui.text import plain, safe

MAX_MODELS = 6
MEASURED = "robust_measured"  # the (run id, kind) pairs this visitor has measured

require_frame()
intro("robust")
mnist = mnist_or_error()
runs = finished_runs(get_store()) if mnist is not None else []
by_id = {run["id"]: run for run in runs}
if mnist is not None and not runs:
    st.info(t("robust.no_runs"), icon="ℹ️")

# Drop choices whose run has since been deleted; start from the newest single network and fusion.
chosen = [i for i in st.session_state.get("robust_runs", default_robust_runs(runs)) if i in by_id]
st.session_state["robust_runs"] = chosen
st.session_state.setdefault(MEASURED, set())

with st.container(border=True):
    chosen = st.multiselect(
        t("robust.runs"),
        list(by_id),
        format_func=lambda i: run_label(by_id[i]),
        max_selections=MAX_MODELS,
        key="robust_runs",
        help=t("robust.runs.help"),
    )
    kind_col, strength_col = st.columns([1, 2])
    kind = kind_col.selectbox(
        t("robust.kind"),
        list(PERTURBATIONS),
        format_func=lambda k: f"{PERTURBATIONS[k].label} ({PERTURBATIONS[k].unit})",
        key="robust_kind",
    )
    p = PERTURBATIONS[kind]
    strength = strength_col.slider(
        t("robust.strength", unit=p.unit),
        min_value=p.min,
        max_value=p.max,
        value=p.default,
        step=p.step,
        key=f"robust_strength_{kind}",
        help=p.help,
    )

chosen_runs = [by_id[i] for i in chosen]
if mnist is not None and chosen_runs:
    st.subheader(t("robust.examples"), divider="gray")
    st.caption(t("robust.examples.caption"))
    st.markdown("  \n".join(f"**{tag(i)}** · {safe(run_label(run))}" for i, run in enumerate(chosen_runs)))
    try:
        perturbed_grid(chosen_runs, mnist, kind, strength)
    except Exception as exc:  # noqa: BLE001 - a damaged, vanished or unreadable model file
        st.error(t("robust.unreadable_any", error=safe(exc)), icon="⚠️")

st.subheader(t("robust.curve"), divider="gray")
button_col, members_col = st.columns([1, 3], vertical_alignment="center")
measure = button_col.button(
    t("robust.measure"),
    key="robust_measure",
    type="primary",
    disabled=mnist is None or not chosen_runs,
    help=t("robust.measure.help"),
    width="stretch",
)
members = members_col.checkbox(t("robust.members"), key="robust_members")


def curve_rows(run: dict) -> list[dict] | None:
    """The run's accuracy per strength, or None after saying why its model cannot be used."""
    try:
        return robustness_rows(run["id"], run["model_path"], model_mtime(run), kind)
    except Exception as exc:  # noqa: BLE001 - a damaged, vanished or unreadable model file
        st.error(t("robust.unreadable", name=safe(run["name"]), error=safe(exc)), icon="⚠️")
        return None


if measure:  # fast inference, so on the script thread, one overwritten progress bar
    bar = st.progress(0.0)
    for i, run in enumerate(chosen_runs):
        bar.progress(
            i / len(chosen_runs),
            text=t("robust.measuring", run=safe(run["name"]), i=i + 1, n=len(chosen_runs)),
        )
        if curve_rows(run) is not None:
            st.session_state[MEASURED].add((run["id"], kind))
    bar.empty()

measured = [(i, run) for i, run in enumerate(chosen_runs) if (run["id"], kind) in st.session_state[MEASURED]]
curves = {f"{tag(i)} · {plain(run['name'])}": rows for i, run in measured if (rows := curve_rows(run))}
figure = robustness_figure(curves, label=p.label, unit=p.unit, members=members, strengths=p.sweep)
st.plotly_chart(figure, key="robust_chart")

what_to_look_for("robust")
