"""Robustness: damage the test digits in controlled ways and watch each model's accuracy fall."""

import streamlit as st

from fusion_core.perturb import PERTURBATIONS
from fusion_core.predictor_client import PredictorError
from ui.frame import require_frame
from ui.i18n import t
from ui.labs import intro, mnist_or_error, model_mtime, robustness_rows, what_to_look_for
from ui.labs_charts import robustness_figure
from ui.labs_views import default_robust_runs, perturbed_grid, run_label, tag
from ui.predict_ui import finished_runs
from ui.state import get_store

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
    st.markdown("  \n".join(f"**{tag(i)}** · {run_label(run)}" for i, run in enumerate(chosen_runs)))
    try:
        perturbed_grid(chosen_runs, mnist, kind, strength)
    except PredictorError as exc:  # an unreadable model file: say which and why, keep the page
        st.error(t("error.generic", error=exc))

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
if measure:  # fast inference, so on the script thread, one overwritten progress bar
    bar = st.progress(0.0)
    for i, run in enumerate(chosen_runs):
        bar.progress(
            i / len(chosen_runs), text=t("robust.measuring", run=run["name"], i=i + 1, n=len(chosen_runs))
        )
        try:
            robustness_rows(run["id"], run["model_path"], model_mtime(run), kind)
        except PredictorError as exc:
            st.error(t("error.generic", error=exc))
        else:
            st.session_state[MEASURED].add((run["id"], kind))
    bar.empty()

curves = {
    f"{tag(i)} · {run['name']}": robustness_rows(run["id"], run["model_path"], model_mtime(run), kind)
    for i, run in enumerate(chosen_runs)
    if (run["id"], kind) in st.session_state[MEASURED]
}
st.plotly_chart(robustness_figure(curves, label=p.label, unit=p.unit, members=members, strengths=p.sweep))

what_to_look_for("robust")
