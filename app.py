"""Fusion Lab: the frame around the pages (page config, sidebar, navigation)."""

import streamlit as st

from ui.i18n import t
from ui.state import get_device, init_session, start_workers

st.set_page_config(page_title=t("app.title"), page_icon="🧠", layout="wide")
init_session()
worker_problem = start_workers()  # once per server: the processes that train the jobs

# Each url_path is the script's file name, as Streamlit's own pages/ routing names it (see
# ui.frame.require_frame): a first request for /data_size lands on the same page either way.
PAGES = {
    t("nav.section.explore"): [
        st.Page("pages/learn.py", title=t("nav.learn"), icon="📘", default=True, url_path="learn"),
        st.Page("pages/train.py", title=t("nav.train"), icon="🏋️", url_path="train"),
        st.Page("pages/draw.py", title=t("nav.draw"), icon="✍️", url_path="draw"),
        st.Page("pages/runs.py", title=t("nav.runs"), icon="🗂️", url_path="runs"),
    ],
    t("nav.section.labs"): [
        st.Page("pages/data_size.py", title=t("nav.data_size"), icon="📈", url_path="data_size"),
        st.Page("pages/overfitting.py", title=t("nav.overfitting"), icon="🎯", url_path="overfitting"),
        st.Page("pages/robustness.py", title=t("nav.robustness"), icon="🛡️", url_path="robustness"),
        st.Page("pages/cost.py", title=t("nav.cost"), icon="⚖️", url_path="cost"),
    ],
}

with st.sidebar:
    st.markdown(f"### {t('app.title')}")
    st.caption(t("app.tagline"))
    device = get_device()
    if device is not None:
        st.caption(t("sidebar.device", device=device["device"], backend=device["backend"]))
    else:
        st.caption(t("sidebar.device_starting"))
    if worker_problem:
        st.warning(worker_problem)

st.navigation(PAGES).run()
