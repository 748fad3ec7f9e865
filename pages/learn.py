"""Learn: what model fusion is, the data it learns from, and a first experiment one click away."""

from importlib.metadata import version

import streamlit as st

from fusion_core.data import DataError
from ui import text_learn as tx
from ui import words
from ui.diversity_ui import comparison_section
from ui.frame import require_frame
from ui.i18n import t
from ui.predict_ui import class_count_figure, digit_grid
from ui.presets import PRESETS
from ui.share import config_to_params
from ui.state import get_device, get_mnist, get_store

require_frame()

SAMPLES_PER_DIGIT = 3  # rows in the grid of sample digits

st.title(t("learn.title"))
st.markdown(t("learn.intro"))


def _start(preset: str) -> None:
    st.session_state["preset"] = dict(PRESETS[preset])
    st.session_state["preset_name"] = preset
    st.switch_page("pages/train.py")


st.markdown(f"**{t('learn.start')}**")
b1, b2, b4, b3 = st.columns([3, 3, 3, 2])
for column, preset, label, icon in (
    (b1, "article", "article", "🧱"),
    (b2, "parallel5", "parallel", "🤝"),
    (b4, "mixed", "mixed", "🧩"),
):
    help_text = t(f"learn.start_{label}_help")
    if column.button(
        t(f"learn.start_{label}"),
        key=f"learn_{label}",
        type="primary",
        icon=icon,
        help=help_text,
        width="stretch",
    ):
        _start(preset)
if b3.button(
    t("learn.start_draw"), key="learn_draw", icon="✍️", help=t("learn.start_draw_help"), width="stretch"
):
    st.switch_page("pages/draw.py")

# -- the article this lab is built on, and what each page takes from it -----------------------------
with st.expander(t("share.article.header"), icon="📄"):
    st.markdown(t("share.article.body"))
    st.markdown(t("share.article.pages"))

# -- the stacked network ----------------------------------------------------------------------------
st.header(t("learn.block.header"))
text, picture = st.columns([3, 2], gap="large")
with text:
    st.markdown(t("learn.block.body"))
    st.latex(tx.STACKED)
    st.latex(tx.SOFTMAX)
with picture:
    st.graphviz_chart(t("learn.dot.block"))
    st.caption(t("learn.block.caption"))

# -- other kinds of member -------------------------------------------------------------------------
st.header(t("learn.kinds.header"))
st.markdown(t("learn.kinds.body"))
st.latex(tx.CONVOLUTION)
st.markdown(t("learn.kinds.lstm"))
st.latex(tx.LSTM_GATES)
st.markdown(t("learn.kinds.mixed"))

# -- the three families -----------------------------------------------------------------------------
st.header(t("learn.families.header"))
st.markdown(t("learn.families.body"))
parallel, serial, hybrid = st.tabs([t("learn.tab.parallel"), t("learn.tab.serial"), t("learn.tab.hybrid")])
with parallel:
    text, picture = st.columns([3, 2], gap="large")
    with picture:
        st.graphviz_chart(t("learn.dot.parallel"))
    with text:
        st.markdown(t("learn.parallel.body"))
        for key, formula in (
            ("soft", tx.SOFT_VOTING),
            ("hard", tx.HARD_VOTING),
            ("weighted", tx.WEIGHTED),
            ("feature", tx.FEATURE),
        ):
            st.markdown(t(f"learn.parallel.{key}"))
            st.latex(words.formula(formula))
        st.caption(t("learn.parallel.sklearn"))
with serial:
    text, picture = st.columns([3, 2], gap="large")
    with picture:
        st.graphviz_chart(t("learn.dot.serial"))
    with text:
        st.markdown(t("learn.serial.body"))
        st.markdown(t("learn.serial.cascade"))
        st.latex(tx.CASCADE)
        st.markdown(t("learn.serial.stacking"))
        st.latex(tx.STACKING)
with hybrid:
    text, picture = st.columns([3, 2], gap="large")
    with picture:
        st.graphviz_chart(t("learn.dot.hybrid"))
    with text:
        st.markdown(t("learn.hybrid.body"))
        st.latex(tx.HYBRID)

# -- members must err differently: the visitor's own runs side by side --------------------------------
st.header(t("learn.diversity.header"))
st.markdown(t("learn.diversity.body"))
compared = comparison_section(get_store().list_runs(status="done"))  # else the shipped reference
if compared["mixed"] is None and st.button(
    t("learn.diversity.start_mixed"), key="learn_diversity_mixed", icon="🧩"
):
    _start("mixed")

# -- the data card ----------------------------------------------------------------------------------
st.header(t("learn.data.header"))
st.markdown(t("learn.data.body"))
try:
    mnist = get_mnist()
except DataError as exc:
    st.warning(f"{t('learn.data.missing')}\n\n{exc}", icon="⚠️")
else:
    grid, counts = st.columns([3, 2], gap="large")
    with grid:
        st.markdown(f"**{t('learn.data.samples', n=SAMPLES_PER_DIGIT)}**")
        st.image(
            digit_grid(mnist.x_train, mnist.y_train, per_class=SAMPLES_PER_DIGIT, scale=2), width="stretch"
        )
    with counts:
        st.markdown(f"**{t('learn.data.counts')}**")
        figure = class_count_figure(
            mnist.y_train,
            mnist.y_test,
            train_name=t("learn.data.train_n", n=len(mnist.y_train)),
            test_name=t("learn.data.test_n", n=len(mnist.y_test)),
        )
        st.plotly_chart(figure, key="learn_counts")
    st.caption(t("learn.data.source", source=words.data_source(mnist.source)))
st.caption(t("learn.data.credit"))

with st.expander(t("learn.anchors.header")):
    st.markdown(t("learn.anchors.body"))

# -- the article's closing questions, each with the page that shows the answer -----------------------
st.header(t("share.questions.header"))
st.markdown(t("share.questions.intro"))
for question, links in tx.QUESTIONS:
    st.markdown(t(f"share.{question}.question"))
    st.markdown(t(f"share.{question}.answer"))
    for page, label, config in links:
        params = config_to_params(config) if config is not None else None
        st.page_link(page, label=t(label), icon="➡️", query_params=params)

# -- where it runs ----------------------------------------------------------------------------------
st.header(t("learn.device.header"))
device = get_device() or {"device": "?", "backend": "?", "gpu": False}  # as the workers report it
st.markdown(
    t(
        "learn.device.body",
        keras=version("keras"),
        device=words.device(device["device"]),
        backend=device["backend"],
    )
)
st.caption(t("learn.device.gpu" if device["gpu"] else "learn.device.cpu"))
