"""Fusion Lab: the frame around the pages (page config, sidebar, navigation)."""

import streamlit as st

from ui import words
from ui.frame import app_pages, frame_runs, link_params
from ui.i18n import language_ui, sync_language, t
from ui.present import present_ui, sidebar_state, sync_present, theme_ui
from ui.state import get_device, init_session, start_workers

sync_language()  # ?lang=zh opens the page in Chinese; the switch below changes it
sync_present()  # ?present=1 opens presentation mode; the toggle below changes it
st.set_page_config(
    page_title=t("app.title"), page_icon="🧠", layout="wide", initial_sidebar_state=sidebar_state()
)
init_session()
worker_problem = start_workers()  # once per server: the processes that train the jobs

PAGES = app_pages()

# The menu is drawn here, before anything slow (the device line imports the training backend), and
# .streamlit/config.toml hides Streamlit's automatic pages/ menu: the first paint shows this menu.
page = st.navigation(PAGES, position="hidden")
frame_runs()
with st.sidebar:
    st.markdown(f"### {t('app.title')}")
    st.caption(t("app.tagline"))
    language_ui()
    for section, section_pages in PAGES.items():
        st.caption(f"**{section}**")
        for section_page in section_pages:
            st.page_link(section_page, query_params=link_params(section_page))
    present_ui()  # presentation mode, for a projector
    theme_ui()  # light or dark: where Streamlit's switch is
    device = get_device()
    if device is not None:
        st.caption(t("sidebar.device", device=words.device(device["device"]), backend=device["backend"]))
    else:
        st.caption(t("sidebar.device_starting"))
    if worker_problem:
        st.warning(worker_problem)

page.run()
