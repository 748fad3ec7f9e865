"""Runs: every stored run in one table; compare curves, rename, download, delete, upload a model."""

from pathlib import Path

import streamlit as st

from fusion_core.config import FUSION_TYPES
from fusion_core.store import MAX_NAME_CHARS, STATUSES, StoreError, clean_name
from ui.frame import require_frame
from ui.i18n import t
from ui.predict_ui import USABLE_STATUSES, fused_test_accuracy
from ui.run_names import ORIGINS, is_default_name, origin_label, run_title
from ui.runs_ui import (
    accuracy_bar_figure,
    curves_title,
    filter_runs,
    fused_curve,
    fused_curves_figure,
    runs_column_config,
    runs_frame,
)
from ui.runs_upload import upload_section
from ui.state import get_store
from ui.text import plain, safe
from ui.words import named

require_frame()

FLASH = "runs_flash"  # (kind, text): a message a callback leaves for the next run to show
# The managed run's id: the one truth behind the box and its buttons. The box's own value is a
# label ("#id · name") in the browser, which a rename changes; so the box is re-seated on this id.
MANAGED = "runs_managed_id"

st.title(t("runs.title"))
st.caption(t("runs.intro"))

store = get_store()


def _flash(kind: str, text: str) -> None:
    st.session_state[FLASH] = (kind, text)


def _clear_selection() -> None:
    """Row numbers point into the table as it was; after a filter change or a delete they are stale."""
    st.session_state["runs_table"] = {"selection": {"rows": [], "columns": [], "cells": []}}


def _follow_box() -> None:
    st.session_state[MANAGED] = st.session_state.get("runs_manage")


def _rename(run_id: int) -> None:
    name = st.session_state.get("runs_rename", "").strip()
    if not name:
        _flash("warning", t("runs.rename_empty"))
        return
    try:
        store.rename(run_id, name)
    except StoreError as exc:  # gone meanwhile, too long, only control characters
        _flash("error", t("runs.error", error=exc))
        return
    st.session_state[MANAGED] = run_id
    _flash("success", t("runs.renamed", run_id=run_id, name=safe(clean_name(name))))


def _delete(run_id: int) -> None:
    try:
        store.delete(run_id)
    except StoreError as exc:
        _flash("error", t("runs.error", error=exc))
    else:
        _flash("success", t("runs.deleted", run_id=run_id))
    _clear_selection()
    st.session_state["runs_delete_confirm"] = False
    st.session_state.pop(MANAGED, None)
    st.session_state.pop("runs_manage_for", None)
    if st.session_state.get("draw_run_id") == run_id:
        st.session_state["draw_run_id"] = None


flash = st.session_state.pop(FLASH, None)
if flash:
    getattr(st, flash[0])(flash[1])

try:
    all_runs = store.list_runs()
except StoreError as exc:
    st.error(t("runs.error", error=exc))
    st.stop()
for bad in all_runs.skipped:
    st.warning(t("runs.skipped", error=bad))
if not all_runs:
    st.info(t("runs.empty"), icon="🗂️")
    if st.button(t("runs.go_train"), key="runs_go_train", type="primary"):
        st.switch_page("pages/train.py")
    upload_section()
    st.stop()

# -- filters and the table ------------------------------------------------------------------------
f1, f2, f4, f3 = st.columns([2, 2, 2, 3])
statuses = f1.multiselect(
    t("runs.filter_status"),
    STATUSES,
    format_func=lambda s: named("words.status", s),
    key="runs_filter_status",
    on_change=_clear_selection,
)
types = f2.multiselect(
    t("runs.filter_type"),
    FUSION_TYPES,
    format_func=lambda s: named("words.type", s),
    key="runs_filter_type",
    on_change=_clear_selection,
)
origins = f4.multiselect(
    t("share.filter_origin"),
    list(ORIGINS),
    format_func=origin_label,
    key="runs_filter_origin",
    on_change=_clear_selection,
)
search = f3.text_input(
    t("runs.search"),
    key="runs_search",
    placeholder=t("runs.search_placeholder"),
    on_change=_clear_selection,
)
shown = filter_runs(all_runs, statuses=statuses, types=types, origins=origins, search=search)
if not shown:
    st.info(t("runs.none_match"))
    upload_section()
    st.stop()

frame = runs_frame(shown)
event = st.dataframe(
    frame,
    key="runs_table",
    on_select="rerun",
    selection_mode="multi-row",
    hide_index=True,
    column_config=runs_column_config(),
    width="stretch",
)
st.caption(t("runs.count", shown=len(shown), total=len(all_runs)))
selected_ids = [int(frame.iloc[i]["id"]) for i in event.selection.rows if 0 <= i < len(frame)]
by_id = {run["id"]: run for run in all_runs}

# -- comparison of the selected runs ----------------------------------------------------------------
st.subheader(t("runs.compare"))
if not selected_ids:
    st.caption(t("runs.compare_hint"))
else:
    chosen = [by_id[i] for i in selected_ids]
    curves = {f"{plain(run_title(r))} (#{r['id']})": fused_curve(store, r["id"]) for r in chosen}
    if all(c.empty for c in curves.values()):
        st.info(t("runs.no_curves"))
    else:
        c1, c2 = st.columns(2)
        for column, metric in zip(st.columns(2), ("accuracy", "loss"), strict=True):
            figure = fused_curves_figure(curves, metric, curves_title(curves, metric))
            column.plotly_chart(figure, key=f"runs_{metric[:3]}")
        if any(c.split == "train" for c in curves.values() if not c.empty):
            st.caption(t("runs.curve_training_note"))
    if any(fused_test_accuracy(r) is not None for r in chosen):
        bar, _ = st.columns(2)
        bar.plotly_chart(accuracy_bar_figure(chosen), key="runs_bar")

# -- one run: rename, delete, download, use -------------------------------------------------------------
st.subheader(t("runs.manage_header"))
ids = [run["id"] for run in shown]
picked = [i for i in selected_ids if i not in st.session_state.get("runs_last_selection", [])]
if picked:
    st.session_state[MANAGED] = picked[-1]  # follow the row just ticked in the table
st.session_state["runs_last_selection"] = selected_ids
if st.session_state.get(MANAGED) not in ids:  # deleted, or filtered out: the first shown run
    st.session_state[MANAGED] = ids[0]
st.session_state["runs_manage"] = st.session_state[MANAGED]
run_id = st.selectbox(
    t("runs.manage"),
    ids,
    format_func=lambda i: f"#{i} · {run_title(by_id[i])}",
    key="runs_manage",
    on_change=_follow_box,
)
run = by_id[run_id]
if st.session_state.get("runs_manage_for") != run_id:  # a different run: reset its form
    st.session_state["runs_manage_for"] = run_id
    st.session_state["runs_rename"] = "" if is_default_name(run) else run["name"][:MAX_NAME_CHARS]
    st.session_state["runs_delete_confirm"] = False
if run.get("error"):
    st.caption(t("runs.error", error=safe(run["error"])))
if run.get("kind") == "upload":
    st.caption(t("runs.training_unknown"))

left, right = st.columns(2, gap="large")
with left:
    st.text_input(t("runs.rename"), key="runs_rename", max_chars=MAX_NAME_CHARS, placeholder=run_title(run))
    st.button(t("runs.rename_button"), key="runs_rename_btn", on_click=_rename, args=(run_id,))
with right:
    confirmed = st.checkbox(t("runs.delete_confirm", run_id=run_id), key="runs_delete_confirm")
    st.button(
        t("runs.delete_button"),
        key="runs_delete_btn",
        type="primary",
        icon="🗑️",
        disabled=not confirmed,
        on_click=_delete,
        args=(run_id,),
    )

model_path = Path(run["model_path"]) if run.get("model_path") else None
has_model = model_path is not None and model_path.exists()
d1, d2, d3 = st.columns(3)
d1.download_button(
    t("runs.download_csv"),
    data=lambda rid=run_id: store.export_metrics_csv(rid),
    file_name=f"run_{run_id}_metrics.csv",
    mime="text/csv",
    key="runs_dl_csv",
    on_click="ignore",
    icon="📄",
)
if has_model:
    d2.download_button(
        t("runs.download_model"),
        data=lambda p=model_path: p.read_bytes(),
        file_name=f"run_{run_id}.keras",
        mime="application/octet-stream",
        key="runs_dl_model",
        on_click="ignore",
        icon="💾",
    )
    if run["status"] in USABLE_STATUSES and d3.button(t("runs.use_on_draw"), key="runs_use_draw", icon="✍️"):
        st.session_state["draw_run_id"] = run_id
        st.switch_page("pages/draw.py")
else:
    d2.caption(t("runs.no_model"))

st.divider()
upload_section()
