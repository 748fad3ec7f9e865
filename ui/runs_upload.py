"""The Runs page's model upload: a visitor's .keras file checked, registered as a run, scored."""

import streamlit as st

from fusion_core.data import DataError
from fusion_core.predictor_client import PredictorError
from fusion_core.uploads import NotAFusionModel, UploadFailed
from ui.i18n import t
from ui.predict_ui import format_accuracy, fused_test_accuracy
from ui.state import get_mnist, get_predictor, get_store
from ui.text import safe

UPLOADS = "runs_uploaded"  # file_id -> ("success" | "error", text), so a file is registered once


def upload_section() -> None:
    """The Runs page's uploader: a .keras file checked, registered once, and its test score shown."""
    store = get_store()
    st.subheader(t("runs.upload_header"))
    upload = st.file_uploader(
        t("runs.upload"), type=["keras"], key="runs_upload_model", help=t("runs.upload_help")
    )
    if upload is None:
        return
    done = st.session_state.setdefault(UPLOADS, {})
    if upload.file_id not in done:
        try:
            mnist = get_mnist()
        except DataError:
            mnist = None  # registered without a test score
        with st.spinner(t("runs.upload_checking")):
            try:
                run_id = get_predictor("labs").register_upload(
                    store, upload.name, upload.getvalue(), mnist=mnist
                )
            except NotAFusionModel as exc:
                done[upload.file_id] = ("error", t("runs.upload_bad", reason=safe(exc)))
            except (UploadFailed, PredictorError) as exc:  # nothing was kept; say why
                done[upload.file_id] = ("error", t("runs.upload_failed", error=safe(exc)))
            else:
                accuracy = format_accuracy(fused_test_accuracy(store.get_run(run_id)))
                done[upload.file_id] = ("success", t("runs.upload_done", run_id=run_id, accuracy=accuracy))
                st.rerun()  # so the table above lists the new run
    kind, text = done[upload.file_id]
    getattr(st, kind)(text)
