"""Robustness: damage the test digits in controlled ways and watch each model's accuracy fall."""

import streamlit as st

from fusion_core.perturb import PERTURBATIONS
from ui.frame import require_frame
from ui.i18n import t
from ui.labs import (
    action_row,
    experiment_active,
    experiment_ids,
    experiment_ui,
    intro,
    mnist_or_error,
    model_mtime,
    remember_experiment,
    remembered_experiment,
    robustness_rows,
    start_experiment,
    what_to_look_for,
)
from ui.labs_charts import robustness_figure
from ui.labs_views import (
    MINUTE,
    PLAN_PARAM,
    ROBUST_MINUTE_KIND,
    default_robust_runs,
    minute_estimate_text,
    minute_requested,
    perturbed_grid,
    robust_minute_points,
    tag,
)
from ui.predict_ui import finished_runs, run_label
from ui.run_names import run_title
from ui.state import get_store
from ui.text import plain, safe
from ui.words import perturbation

LAB = "robust"
MAX_MODELS = 6
MEASURED = "robust_measured"  # the (run id, kind) pairs this visitor has measured
SHOWN = "robust_minute_shown"  # the one-minute experiments whose runs this visitor has been shown
GRID_DRAWN = "robust_grid_drawn"  # the (runs, kind, strength) whose example grid this visitor has seen
GRID_PHASE = "robust_grid_phase"  # ("paint" | "load", that key) while the grid is deferred
PAGE_DRAWN = "robust_page_drawn"  # False while the page's script runs, True once it has finished
GRID_DEFER_S = 0.2  # how soon after the first paint the grid is predicted and drawn


def show_minute_runs(ids: list[int]) -> None:
    """Choose the one-minute plan's runs, noise and the members' curves, and measure them (once per
    experiment: afterwards the controls are the visitor's). Before the widgets are drawn."""
    st.session_state["robust_runs"] = list(ids)
    st.session_state["robust_kind"] = ROBUST_MINUTE_KIND
    st.session_state["robust_members"] = True
    st.session_state.setdefault(MEASURED, set()).update((i, ROBUST_MINUTE_KIND) for i in ids)


require_frame()
intro("robust")
mnist = mnist_or_error()
store = get_store()
runs = finished_runs(store) if mnist is not None else []
by_id = {run["id"]: run for run in runs}

# The one-minute plan: a single network and a fusion trained alike (stored ones are reused), then
# their accuracy under noise. ?plan=minute opens it, and shows its runs at once if they are stored.
minute_points = robust_minute_points()
group, _ = remembered_experiment(LAB, (PLAN_PARAM,))
minute_ids = experiment_ids(LAB, group, minute_points) if group else []
minute_busy = experiment_active(minute_ids)
if not group and minute_requested():
    stored = [store.find_done_run(p.config.to_dict()) for p in minute_points]
    if all(stored):
        minute_ids, group = [run["id"] for run in stored], "stored"
shown = st.session_state.setdefault(SHOWN, set())
shown_key = (group, *minute_ids)  # stored runs retrained later are shown again
ready = bool(minute_ids) and not minute_busy and all(i in by_id for i in minute_ids)
if group and ready and shown_key not in shown:
    show_minute_runs(minute_ids)
    shown.add(shown_key)

with st.expander(t("robust.minute.title"), icon="⏱️",
                 expanded=minute_requested() or minute_busy or (mnist is not None and not runs)):  # fmt: skip
    st.markdown(t("robust.minute.body"))
    clicked, estimate_col = action_row(
        t("robust.minute.run"),
        key="robust_minute",
        help_text=t("robust.minute.help"),
        busy_text=t("robust.minute.busy"),
        busy=minute_busy,
        disabled=mnist is None,
    )
    estimate_col.caption(minute_estimate_text(minute_points, store))
    if clicked:
        group, minute_ids = start_experiment(minute_points, kind="robustness", lab=LAB)
        remember_experiment(LAB, group, minute_ids, {PLAN_PARAM: MINUTE})
        st.rerun()  # so the button shows the plan as running
    if group and group != "stored" and minute_ids:
        experiment_ui(LAB, group, minute_points, minute_ids, lambda _runs: None)

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
        format_func=lambda k: t("words.perturb.choice", label=perturbation(k), unit=perturbation(k, "unit")),
        key="robust_kind",
    )
    p = PERTURBATIONS[kind]
    strength = strength_col.slider(
        t("robust.strength", unit=perturbation(kind, "unit")),
        min_value=p.min,
        max_value=p.max,
        value=p.default,
        step=p.step,
        key=f"robust_strength_{kind}",
        help=perturbation(kind, "help"),
    )

chosen_runs = [by_id[i] for i in chosen]


def examples(runs: list[dict], kind: str, strength: float, shown: tuple) -> None:
    """The damaged digits and each model's prediction, drawn after the page's first paint.

    Predicting loads the models into the prediction process (seconds the first time), so a page
    whose grid is not drawn yet shows its controls and a progress bar first; this fragment's next
    run, a moment later, predicts and draws the grid, then reruns the page once so it stops polling.
    """
    if st.session_state.get(GRID_PHASE) == ("paint", shown):
        st.session_state[GRID_PHASE] = ("load", shown)  # the next run of this fragment predicts
        st.progress(0.0, text=t("robust.examples.loading"))
        return
    try:
        perturbed_grid(runs, mnist, kind, strength)
    except Exception as exc:  # noqa: BLE001 - a damaged, vanished or unreadable model file
        st.error(t("robust.unreadable_any", error=safe(exc)), icon="⚠️")
    st.session_state[GRID_PHASE] = None
    first_time = shown not in st.session_state[GRID_DRAWN]
    st.session_state[GRID_DRAWN].add(shown)
    if first_time and st.session_state.get(PAGE_DRAWN):  # a run of this fragment alone: stop polling
        st.rerun(scope="app")


st.session_state[PAGE_DRAWN] = False
if mnist is not None and chosen_runs:
    st.subheader(t("robust.examples"), divider="gray")
    st.caption(t("robust.examples.caption"))
    st.markdown("  \n".join(f"**{tag(i)}** · {safe(run_label(run))}" for i, run in enumerate(chosen_runs)))
    grid_key = (tuple((run["id"], model_mtime(run)) for run in chosen_runs), kind, strength)
    drawn = st.session_state.setdefault(GRID_DRAWN, set())
    # Deferred once per choice; a rerun that comes before the fragment's own run predicts at once.
    deferred = grid_key not in drawn and st.session_state.get(GRID_PHASE) != ("load", grid_key)
    if deferred:
        st.session_state[GRID_PHASE] = ("paint", grid_key)
    st.fragment(examples, run_every=GRID_DEFER_S if deferred else None)(chosen_runs, kind, strength, grid_key)

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
        st.error(t("robust.unreadable", name=safe(run_title(run)), error=safe(exc)), icon="⚠️")
        return None


if measure:  # fast inference, so on the script thread, one overwritten progress bar
    bar = st.progress(0.0)
    for i, run in enumerate(chosen_runs):
        bar.progress(
            i / len(chosen_runs),
            text=t("robust.measuring", run=safe(run_title(run)), i=i + 1, n=len(chosen_runs)),
        )
        if curve_rows(run) is not None:
            st.session_state[MEASURED].add((run["id"], kind))
    bar.empty()

measured = [(i, run) for i, run in enumerate(chosen_runs) if (run["id"], kind) in st.session_state[MEASURED]]
curves = {f"{tag(i)} · {plain(run['name'])}": rows for i, run in measured if (rows := curve_rows(run))}
label, unit = perturbation(kind), perturbation(kind, "unit")
figure = robustness_figure(curves, label=label, unit=unit, members=members, strengths=p.sweep)
st.plotly_chart(figure, key="robust_chart")

what_to_look_for("robust")
st.session_state[PAGE_DRAWN] = True  # the examples fragment's later runs are runs of it alone
