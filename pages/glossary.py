"""Glossary: the jargon of the lab in English and Chinese, each term explained in the visitor's language."""

import streamlit as st

from ui.frame import require_frame
from ui.glossary import matching_terms, term_pair
from ui.i18n import t
from ui.text import safe

require_frame()

st.title(t("glossary.title"))
st.markdown(t("glossary.intro"))

query = st.text_input(
    t("glossary.search"), key="glossary_search", placeholder=t("glossary.search.placeholder")
).strip()
shown = matching_terms(query)
st.caption(t("glossary.count", n=sum(len(terms) for terms in shown.values())))
if not any(shown.values()):
    st.info(t("glossary.none", query=safe(query)), icon="🔎")

for section, terms in shown.items():
    if not terms:
        continue
    st.subheader(t(f"glossary.section.{section}"), divider="gray")
    for term in terms:
        first, second = term_pair(term)
        st.markdown(f"**{first}** · {second}  \n{t(f'glossary.{term}.text')}")
