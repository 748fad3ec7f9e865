"""Cost of fusion: accuracy against parameters, time and size, with the Pareto front marked."""

import streamlit as st

from fusion_core.experiments import COST_AXES, COST_PRESET, cost_rows, mark_pareto
from ui.frame import require_frame
from ui.i18n import t
from ui.labs import (
    Point,
    action_row,
    estimate_text,
    experiment_active,
    experiment_ids,
    experiment_ui,
    intro,
    mnist_or_error,
    remember_experiment,
    remembered_experiment,
    start_experiment,
    what_to_look_for,
)
from ui.labs_charts import cost_axis, cost_figure, cost_table
from ui.state import get_store

LAB = "cost"
SCOPES = ("preset", "all", "pick")
POINTS = [Point(config.describe(), config, f"cost {config.describe()}") for config in COST_PRESET]

require_frame()
intro("cost")
mnist = mnist_or_error()
store = get_store()

group, _ = remembered_experiment(LAB)
ids = experiment_ids(LAB, group, POINTS) if group else []
busy = experiment_active(ids)
clicked, estimate_col = action_row(
    t("cost.preset"),
    key="cost_preset",
    help_text=t("cost.preset.help"),
    busy_text=t("cost.busy"),
    busy=busy,
    disabled=mnist is None,
)
estimate_col.caption(estimate_text(POINTS))
if clicked:
    group, ids = start_experiment(POINTS, kind="cost", lab=LAB)
    remember_experiment(LAB, group, ids)
    st.rerun()  # so the button shows the preset as running


def preset_runs() -> list[dict]:
    found = (store.find_done_run(point.config.to_dict()) for point in POINTS)
    return [run for run in found if run is not None]


all_rows = cost_rows(store.list_runs(status="done"))
st.session_state.setdefault("cost_scope", "preset" if preset_runs() or group else "all")
with st.container(border=True):
    scope_col, axis_col = st.columns([3, 2])
    scope = scope_col.radio(
        t("cost.scope"), SCOPES, format_func=lambda s: t(f"cost.scope.{s}"), key="cost_scope", horizontal=True
    )
    axis = axis_col.selectbox(t("cost.axis"), list(COST_AXES), format_func=cost_axis, key="cost_axis")
    picked = []
    if scope == "pick":
        labels = {row["run_id"]: f"{row['name']} · {row['description']}" for row in all_rows}
        picked = st.multiselect(t("cost.runs"), list(labels), format_func=labels.get, key="cost_runs")


def show_costs(runs: list[dict | None]) -> None:
    """The scatter with its Pareto front and the table, for the chosen runs (the preset's fill in live)."""
    if scope == "preset":
        rows = cost_rows(preset_runs())
    elif scope == "all":
        rows = cost_rows(store.list_runs(status="done"))
    else:
        rows = [row for row in all_rows if row["run_id"] in picked]
    rows = mark_pareto([row for row in rows if row[axis] > 0], axis)  # a log axis cannot show 0
    st.plotly_chart(cost_figure(rows, axis), key="cost_chart")
    st.markdown(f"**{t('cost.table')}**")
    st.dataframe(cost_table(rows), hide_index=True, width="stretch")


experiment_ui(LAB, group, POINTS, ids, show_costs)
what_to_look_for("cost")
