"""Overfitting: Nielsen's 1,000-image network learns its training set by heart; do the remedies help?"""

import streamlit as st

from fusion_core import jobs
from fusion_core.config import INITIALIZERS
from fusion_core.experiments import (
    OVERFIT_DROPOUT,
    OVERFIT_L2,
    OVERFIT_MEMBERS,
    OVERFIT_PATIENCE,
    overfit_config,
)
from ui.charts import overlay_figure
from ui.frame import require_frame
from ui.i18n import t
from ui.labs import action_row, intro, mnist_or_error, what_to_look_for
from ui.labs_charts import gap_figure, gap_table, variant_code, variant_colours, variant_label
from ui.labs_views import overfit_variants
from ui.limits_ui import note_run, queue_refusal
from ui.live import ACTIVE, live_run, remember_run, remembered_run
from ui.state import get_store
from ui.words import describe

RUN_KEY, RUN_PARAM = "overfit_run_id", "run"  # the visitor's run, in session state and the URL
REUSED = "overfit_reused"  # set when Train found the network already stored, shown once
MAX_EPOCHS = 60
DEFAULTS = {"overfit_dropout": False, "overfit_l2": False, "overfit_early": False, "overfit_fusion": False,
            "overfit_epochs": 30, "overfit_init": "glorot_uniform"}  # fmt: skip

require_frame()
intro("overfit")
mnist = mnist_or_error()
for key, value in DEFAULTS.items():
    st.session_state.setdefault(key, value)

with st.container(border=True):
    dropout_col, l2_col, early_col, fusion_col = st.columns(4)
    dropout = dropout_col.toggle(
        t("overfit.dropout"), key="overfit_dropout", help=t("overfit.dropout.help", rate=OVERFIT_DROPOUT)
    )
    l2 = l2_col.toggle(t("overfit.l2"), key="overfit_l2", help=t("overfit.l2.help", l2=OVERFIT_L2))
    early = early_col.toggle(
        t("overfit.early"), key="overfit_early", help=t("overfit.early.help", n=OVERFIT_PATIENCE)
    )
    fusion = fusion_col.toggle(
        t("overfit.fusion"), key="overfit_fusion", help=t("overfit.fusion.help", k=OVERFIT_MEMBERS)
    )
    epochs_col, init_col = st.columns(2)
    epochs = epochs_col.slider(t("overfit.epochs"), 1, MAX_EPOCHS, key="overfit_epochs")
    initializer = init_col.radio(
        t("overfit.init"),
        INITIALIZERS,
        key="overfit_init",
        format_func=lambda name: t(f"overfit.init.{name}"),
        horizontal=True,
        help=t("overfit.init.help"),
    )

config = overfit_config(
    dropout=dropout, l2=l2, early_stopping=early, fusion=fusion, epochs=epochs, initializer=initializer
)
variant = variant_label(config.to_dict())

run_id = remembered_run(RUN_KEY, RUN_PARAM)
busy = run_id is not None and jobs.job_state(get_store(), run_id)["status"] in ACTIVE
refusal = None if busy else queue_refusal()  # one visitor cannot fill the shared queue
if refusal:
    st.error(refusal, icon="🛑")
clicked, summary_col = action_row(
    t("overfit.train"),
    key="overfit_train",
    help_text=t("overfit.train.help"),
    busy_text=t("overfit.busy"),
    busy=busy,
    disabled=mnist is None or bool(refusal),
)
summary_col.caption(t("overfit.summary", variant=variant, describe=describe(config), epochs=epochs))
if clicked:
    name = f"overfit {variant_code(config.to_dict())}"  # a code: the store keeps no translated words
    run_id, reused = jobs.reuse_or_submit(get_store(), config, name=name, kind="overfit")
    if not reused:
        note_run(run_id)
    if reused:  # never train the same network twice
        st.session_state[REUSED] = run_id
    remember_run(run_id, RUN_KEY, RUN_PARAM)
    st.rerun()  # so the button shows the run as busy
if st.session_state.pop(REUSED, None) == run_id and run_id is not None:
    st.info(t("overfit.reused", run_id=run_id), icon="♻️")

st.header(t("overfit.live"), divider="gray")
live_run(run_id, key="overfit_live")

st.header(t("overfit.compare"), divider="gray")
st.caption(t("overfit.compare.caption"))
rows, curves = overfit_variants(get_store())
gap_col, curves_col = st.columns(2, gap="large")
gap_col.plotly_chart(gap_figure(rows), key="overfit_gaps")
colours = variant_colours(r["code"] for r in rows)  # a variant has one colour in both charts
by_label = {r["variant"]: colours[r["code"]] for r in rows}
overlay = overlay_figure(curves, "accuracy", x="epoch", title=t("overfit.curves"), colours=by_label)
curves_col.plotly_chart(overlay, key="overfit_curves")
variant_column = {t("labs.col.variant"): st.column_config.TextColumn(width="large")}
st.dataframe(gap_table(rows), hide_index=True, width="stretch", column_config=variant_column)

what_to_look_for("overfit")
