"""Train: choose an architecture and a fusion, watch it learn, read its test results."""

import streamlit as st

from fusion_core import jobs
from fusion_core.config import MNIST_TRAIN_SIZE
from fusion_core.data import DataError
from ui.architecture import architecture_dot, formula_latex, parameter_counts
from ui.config_ui import LINK_SUPERSEDES, clear_preset_request, config_ui, requested_config
from ui.frame import require_frame
from ui.i18n import t
from ui.limits_ui import estimate_ui, note_run, queue_refusal, start_refusal
from ui.live import ACTIVE, live_run, remember_run, remembered_run, run_results
from ui.present import folded, presenting, result_line
from ui.share import copy_link_ui, show_note, write_config
from ui.state import get_mnist, get_store
from ui.words import describe

require_frame()


def start_training(config) -> None:
    """Training runs in a worker process; the page submits the job and follows it."""
    if start_refusal(config):  # Train is disabled then; a click sent anyway is refused here too
        return
    remember_run(jobs.submit(get_store(), config, kind="train"))
    note_run(st.session_state["train_run_id"])  # counted against the per-visitor job limit
    clear_preset_request()


st.title(t("train.title"))
if not presenting():  # on a projector the teacher says it; the Train button and the chart need the room
    st.markdown(t("train.intro"))

data_error = None
try:
    get_mnist()
except DataError as exc:
    data_error = str(exc)
    st.error(t("train.data_error", error=data_error), icon="⚠️")

run_id = remembered_run()
run = get_store().get_run(run_id) if run_id is not None else None
with folded(t("present.settings"), border=True):  # from a ready-made experiment, else the run on show
    config = config_ui("train", default=requested_config(run["config"] if run else None))
    write_config(config, drop=LINK_SUPERSEDES)  # the URL follows the form: a copied link restores it
    copy_link_ui("train_share")  # inside the settings: presentation mode folds it away with them
show_note()

if not presenting():
    st.header(t("train.before"), divider="gray")
with folded(t("train.before")):
    diagram_col, params_col = st.columns([3, 2], gap="large")  # room for "3,348,490" at 1024 px
    diagram_col.graphviz_chart(architecture_dot(config), width="stretch")
    with params_col:
        counts = parameter_counts(config)
        st.metric(t("train.params"), f"{counts['total']:,}", help=t("train.params.help"))
        if config.fusion.type != "single":
            members = counts["total"] - counts["fused"]
            st.caption(t("train.params.members", members=members, fused=counts["fused"]))
        refusal = estimate_ui(config)  # memory and time; a message when this machine cannot finish it
    st.markdown(f"**{t('train.formula')}**")
    st.latex(formula_latex(config))

status = jobs.job_state(get_store(), run_id)["status"] if run_id is not None else None
busy = status in ACTIVE
refusal = refusal or (None if busy else queue_refusal())
if refusal:
    st.error(refusal, icon="🛑")
button_col, summary_col = st.columns([1, 5], vertical_alignment="center")
button_col.button(
    t("train.button"),
    type="primary",
    key="train_button",
    on_click=start_training,  # before the rerun, so the whole page already shows the new run
    args=(config,),
    disabled=bool(data_error) or busy or bool(refusal),
    help=t("train.button.busy") if busy else t("train.button.help"),
    width="stretch",
)
tc = config.training
pool = MNIST_TRAIN_SIZE - round(MNIST_TRAIN_SIZE * tc.validation_fraction)  # the rest is validation
result = result_line(run) if presenting() else None  # on a projector: the result beside the button
if result:
    summary_col.markdown(result)
else:
    summary_col.caption(
        t("train.summary", describe=describe(config), epochs=tc.epochs, size=min(tc.train_size, pool))
    )

if not presenting():
    st.header(t("train.live"), divider="gray")
status = live_run(run_id, key="train_live")
if status in ("done", "stopped"):
    run_results(run_id)
