"""Draw a digit: a canvas (or an uploaded picture) and what every member and the fusion make of it."""

import streamlit as st
from streamlit_drawable_canvas import st_canvas

from fusion_core import jobs
from fusion_core.config import make_config
from fusion_core.predictor_client import PredictorError
from fusion_core.preprocess import load_image_bytes
from ui.frame import require_frame
from ui.i18n import t
from ui.limits_ui import note_run, queue_refusal
from ui.predict_ui import (
    USABLE_STATUSES,
    enlarge,
    finished_runs,
    format_accuracy,
    fused_test_accuracy,
    load_run_model,
    member_kinds,
    model_picker_ui,
    predict_drawing,
    show_members,
    show_verdict,
)
from ui.presets import PRESETS
from ui.state import get_store

require_frame()

QUICK_RUN = "draw_quick_run_id"  # the one-click run this visitor started, while it trains
CANVAS_PX = 280  # the drawing box's side in pixels
PREDICTIONS_PX = 460  # the verdict and its bar chart beside the canvas (narrower only on a phone)
CANVAS_GEN = "draw_canvas_gen"  # bumped by Clear: a new canvas key gives an empty canvas
UPLOAD_CACHE = "draw_upload_decoded"  # (file_id, image or None, error or None) of the last upload
ACTIVE = ("queued", "running")

st.session_state.setdefault(QUICK_RUN, None)
st.session_state.setdefault(CANVAS_GEN, 0)

st.title(t("draw.title"))
st.caption(t("draw.intro"))

store = get_store()


@st.fragment(run_every=1)
def quick_progress(run_id: int) -> None:
    """Overwrites one progress bar each second; reruns the page once the run has ended."""
    state = jobs.job_state(store, run_id)
    if state["status"] not in ACTIVE:
        st.rerun()
    progress = state["progress"]
    if state["queue_position"]:
        st.progress(0.0, text=t("draw.quick_queued", position=state["queue_position"]))
    elif progress is None:
        st.progress(0.0, text=t("draw.quick_starting"))
    else:
        seconds = progress["seconds_left"] or 0.0
        st.progress(
            progress["fraction"], text=t("draw.quick_progress", percent=progress["fraction"], seconds=seconds)
        )


quick_id = st.session_state[QUICK_RUN]
if quick_id is not None and jobs.job_state(store, quick_id)["status"] not in ACTIVE:
    finished = store.get_run(quick_id)
    st.session_state[QUICK_RUN] = quick_id = None
    if finished and finished["status"] in USABLE_STATUSES:
        st.session_state["draw_run_id"] = finished["id"]
        st.success(t("draw.quick_done", accuracy=format_accuracy(fused_test_accuracy(finished))))
    elif finished:
        st.error(t("draw.quick_failed", error=finished["error"] or finished["status"]))

runs = finished_runs(store)
if quick_id is not None:
    quick_progress(quick_id)
elif not runs:
    st.subheader(t("draw.empty_title"))
    st.write(t("draw.empty_body"))
    refusal = queue_refusal()  # one visitor cannot fill the shared queue
    if refusal:
        st.error(refusal, icon="🛑")
    if st.button(t("draw.quick_train"), key="quick_train", type="primary", icon="⚡", disabled=bool(refusal)):
        run_id = jobs.submit(store, make_config(**PRESETS["quick"]), kind="quick")  # named by its config
        note_run(run_id)
        st.session_state[QUICK_RUN] = run_id
        st.rerun()

run = model_picker_ui(runs)
model = None  # the chosen run's model path, once the prediction process has loaded it
if run is not None:
    try:
        with st.spinner(t("draw.loading")):
            model = load_run_model(run)
    except PredictorError as exc:  # a damaged or vanished file: say so, keep the page
        st.error(t("error.generic", error=exc))


def _clear_canvas() -> None:
    st.session_state[CANVAS_GEN] += 1


def decoded_upload(upload) -> tuple[object, str | None]:
    """(image, None) or (None, error): each uploaded file is decoded once, not on every rerun."""
    cached = st.session_state.get(UPLOAD_CACHE)
    if cached is None or cached[0] != upload.file_id:
        try:
            cached = (upload.file_id, load_image_bytes(upload.getvalue()), None)
        except ValueError as exc:
            cached = (upload.file_id, None, str(exc))
        st.session_state[UPLOAD_CACHE] = cached  # one file at a time: the previous one is dropped
    return cached[1], cached[2]


@st.fragment
def draw_and_predict() -> None:
    """Canvas strokes rerun only this part of the page: preprocess, predict, draw the bars."""
    # The canvas keeps its 280 pixels and the predictions their PREDICTIONS_PX: on a narrow screen (a
    # 1024-pixel projector with the sidebar open) the predictions wrap below the canvas instead of
    # either being clipped.
    row = st.container(horizontal=True, gap="large")
    left, right = row.container(width=CANVAS_PX + 20), row.container(width=PREDICTIONS_PX)
    with left:
        st.caption(t("draw.canvas_label"))
        gen = st.session_state[CANVAS_GEN]
        canvas = st_canvas(
            stroke_width=18,
            stroke_color="#000000",
            background_color="#FFFFFF",
            height=CANVAS_PX,
            width=CANVAS_PX,
            drawing_mode="freedraw",
            update_streamlit=True,
            return_image_data=True,
            key="canvas" if gen == 0 else f"canvas_{gen}",
        )
        st.button(t("draw.clear"), key="draw_clear", icon="🧽", on_click=_clear_canvas)
        upload = st.file_uploader(
            t("draw.upload"), type=["png", "jpg", "jpeg"], key="draw_upload", help=t("draw.upload_help")
        )

    image = canvas.image_data if canvas is not None else None
    if upload is not None:
        image, error = decoded_upload(upload)
        if error is not None:
            with left:
                st.error(error)
        else:
            with left:
                st.caption(t("draw.using_upload"))

    with right:
        if model is None:
            return
        try:
            pred = predict_drawing(model, image) if image is not None else None
        except PredictorError as exc:
            st.error(t("error.generic", error=exc))
            return
        if pred is None:
            st.info(t("draw.prompt"), icon="✏️")
            return
        seen, verdict = st.columns([1, 4], vertical_alignment="center")
        with seen:
            st.image(enlarge(pred.image, 5), caption=t("draw.seen"))
        with verdict:
            show_verdict(pred, key="draw")
    show_members(pred, key="draw", kinds=member_kinds(run))


draw_and_predict()
