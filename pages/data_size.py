"""Data size: test and training accuracy against training-set size, a single network against fusions."""

import streamlit as st

from fusion_core.experiments import MAX_SEEDS, SWEEP_CONFIGS, summarise_sweep
from ui.config_ui import TRAIN_SIZES
from ui.frame import require_frame
from ui.i18n import t
from ui.labs import (
    action_row,
    estimate_text,
    experiment_active,
    experiment_ids,
    experiment_ui,
    intro,
    mnist_or_error,
    needs_measuring,
    remember_experiment,
    remembered_experiment,
    requested_plan,
    start_experiment,
    what_to_look_for,
)
from ui.labs_charts import config_label, short_count, sweep_csv, sweep_figure, sweep_table
from ui.labs_views import (
    SWEEP_MINUTE_PLAN,
    SWEEP_PARAMS,
    sweep_params,
    sweep_plan,
    sweep_points,
    sweep_rows,
    sweep_widget_values,
)

LAB = "sweep"
DEFAULT_PLAN = {
    "configs": ["single", "parallel"],
    "sizes": [250, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000],
    "seeds": 1,
    "epochs": 5,
}
MAX_EPOCHS = 30
MINUTE_PLAN = SWEEP_MINUTE_PLAN  # the '1 minute' plan's button, and ?plan=minute


def use_minute_plan() -> None:
    """Sets the controls to MINUTE_PLAN (a callback, so it runs before the widgets are drawn)."""
    st.session_state.update(sweep_widget_values(MINUTE_PLAN, sizes=TRAIN_SIZES, max_epochs=MAX_EPOCHS))


require_frame()
intro("size")
mnist = mnist_or_error()

# The experiment on show: from the URL (a refresh or a shared link keeps it) or this session.
if requested_plan("minute"):  # a link (the lesson's) asks for the '1 minute' plan
    use_minute_plan()
group, params = remembered_experiment(LAB, SWEEP_PARAMS)
shown_plan = sweep_plan(params) if group else None
# The controls start from the plan on show, so a shared link shows its own settings.
start = sweep_widget_values(shown_plan or DEFAULT_PLAN, sizes=TRAIN_SIZES, max_epochs=MAX_EPOCHS)
for key, value in start.items():
    st.session_state.setdefault(key, value)

with st.container(border=True):
    st.button(t("size.minute"), key="size_preset_minute", icon="⏱️", on_click=use_minute_plan,
              help=t("size.minute.help"))  # fmt: skip
    # One row each: side by side, a 1024-pixel screen with the sidebar open hid some of the chips.
    configs = st.multiselect(
        t("size.configs"), list(SWEEP_CONFIGS), format_func=config_label, key="size_configs"
    )
    sizes = st.multiselect(
        t("size.sizes"), TRAIN_SIZES, format_func=short_count, key="size_sizes", help=t("size.sizes.help")
    )
    seeds_col, epochs_col = st.columns(2)
    seeds = seeds_col.slider(t("size.seeds"), 1, MAX_SEEDS, key="size_seeds", help=t("size.seeds.help"))
    epochs = epochs_col.slider(t("size.epochs"), 1, MAX_EPOCHS, key="size_epochs", help=t("size.epochs.help"))

plan = {"configs": configs, "sizes": sorted(sizes), "seeds": seeds, "epochs": epochs}
try:
    points = sweep_points(plan)
except ValueError as exc:  # no configuration or size chosen, or a bad override
    points = []
    st.warning(t("labs.config_error", error=exc))

try:
    shown_points = sweep_points(shown_plan) if shown_plan else []
except ValueError:
    shown_points = []
ids = experiment_ids(LAB, group, shown_points) if shown_points else []
busy = experiment_active(ids)

clicked, estimate_col = action_row(
    t("size.run"),
    key="sweep_run",
    help_text=t("size.run.help"),
    busy_text=t("size.busy"),
    busy=busy,
    disabled=mnist is None or not points,
)
if points:
    estimate_col.caption(estimate_text(points))
if clicked:
    group, ids = start_experiment(points, kind="sweep", lab=LAB)
    remember_experiment(LAB, group, ids, sweep_params(plan))
    st.rerun()  # so the button shows the sweep as running


def show_sweep(runs: list[dict | None]) -> None:
    """The curves, the table of means over seeds and its CSV, filled in as points finish."""
    chart_col, table_col = st.columns(2, gap="medium")
    # The chart is drawn once per run of the script, with what is known: clearing a slot (st.empty)
    # to draw it twice showed a blank chart frame in between. Training accuracies still missing are
    # measured under the chart, then one rerun draws them.
    summary = summarise_sweep(sweep_rows(shown_points, runs, measure=False)) if runs else []
    chart_col.plotly_chart(sweep_figure(summary), key="sweep_chart")
    if any(needs_measuring(run) for run in runs):
        with chart_col.spinner(t("size.measuring")):
            sweep_rows(shown_points, runs)  # measures (and remembers) the missing training accuracies
        st.rerun()
    with table_col:
        st.markdown(f"**{t('size.table')}**")
        table = sweep_table(summary)
        st.dataframe(table, hide_index=True, width="stretch")
        st.download_button(
            t("size.csv"),
            sweep_csv(summary),
            file_name=f"{group or 'sweep'}.csv",
            mime="text/csv",
            key="sweep_csv",
            icon=":material/download:",
            disabled=not summary,
        )


experiment_ui(LAB, group, shown_points, ids, show_sweep)
what_to_look_for("size")
