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
from ui.labs_views import MINUTE, PLAN_PARAM, cost_minute_points, minute_estimate_text, minute_requested
from ui.state import get_store
from ui.words import describe, describe_config

LAB = "cost"
SCOPES = ("preset", "all", "pick")
PLANS = ("full", MINUTE)  # the whole preset (10 runs), or its one-minute part (5 runs): ?plan=minute
FULL_POINTS = [Point(describe(config), config, f"cost {config.describe()}") for config in COST_PRESET]


def plan_points(plan: str | None) -> list[Point]:
    return cost_minute_points() if plan == MINUTE else FULL_POINTS


def plan_changed() -> None:
    """The URL follows the chosen plan; the experiment on show was the other plan's, so it is let go
    (its runs go on, and the preset scope shows the stored runs of the plan chosen now)."""
    st.query_params[PLAN_PARAM] = st.session_state["cost_plan"]
    st.query_params.pop("group", None)
    st.session_state.pop(f"{LAB}_experiment", None)


require_frame()
intro("cost")
mnist = mnist_or_error()
store = get_store()

group, group_params = remembered_experiment(LAB, (PLAN_PARAM,))
ids = experiment_ids(LAB, group, plan_points(group_params.get(PLAN_PARAM))) if group else []
busy = experiment_active(ids)
# The URL's plan wins (a lesson links to ?plan=minute); the radio keeps the URL in step.
st.session_state["cost_plan"] = MINUTE if minute_requested() else st.session_state.get("cost_plan", "full")
plan = st.radio(t("cost.plan"), PLANS, format_func=lambda p: t(f"cost.plan.{p}"), key="cost_plan",
                horizontal=True, on_change=plan_changed, disabled=busy, help=t("cost.plan.help"))  # fmt: skip
POINTS = plan_points(plan)
clicked, estimate_col = action_row(
    t("cost.preset"),
    key="cost_preset",
    help_text=t("cost.preset.help") if plan == "full" else t("cost.minute.help"),
    busy_text=t("cost.busy"),
    busy=busy,
    disabled=mnist is None,
)
estimate_col.caption(minute_estimate_text(POINTS, store) if plan == MINUTE else estimate_text(POINTS))
if clicked:
    group, ids = start_experiment(POINTS, kind="cost", lab=LAB)
    group_params = {PLAN_PARAM: plan}
    remember_experiment(LAB, group, ids, group_params)
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
        labels = {
            row["run_id"]: f"{row['name']} · {describe_config(row['config']) or row['description']}"
            for row in all_rows
        }
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


experiment_ui(LAB, group, plan_points(group_params.get(PLAN_PARAM)), ids, show_costs)
what_to_look_for("cost")
