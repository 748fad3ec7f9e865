"""Every word a visitor sees, looked up by key: `t("train.title")`.

The words live in one catalog per language, `ui/locales/<lang>.toml`: English in en.toml and each
translation beside it with the same keys and the same {placeholders} (tests/test_i18n.py checks
both). A key missing from a translation falls back to English, then to the key itself, so a gap
shows up as readable text, never as a crash.

The visitor's language is kept in the session (`st.session_state["lang"]`) and mirrored in the URL
(`?lang=zh`), so a link opens in the language it was copied in. Keys are identities; the words are
only for showing, so nothing ever groups or compares by a translated label.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import streamlit as st

DEFAULT_LANGUAGE = "en"
LANGUAGES = {"en": "English", "zh": "简体中文"}  # code -> the language's own name, for the switch
LANG_PARAM = "lang"  # the URL parameter that carries the language
LOCALES = Path(__file__).with_name("locales")


def _load(lang: str) -> dict[str, str]:
    path = LOCALES / f"{lang}.toml"
    if not path.exists():
        return {}
    with path.open("rb") as f:
        return tomllib.load(f)


STRINGS: dict[str, dict[str, str]] = {lang: _load(lang) for lang in LANGUAGES}

# Charts and diagrams name fonts that have the Chinese glyphs first (Debian's fonts-noto-cjk, which
# `make browser-deps` installs; the next ones come with macOS and Windows), so a zh page never shows
# empty boxes; their Latin letters and digits serve the English pages as well.
FONT_FAMILY = (
    "Noto Sans CJK SC, Noto Sans SC, Source Han Sans SC, PingFang SC, Microsoft YaHei, "
    "Source Sans Pro, Helvetica, Arial, sans-serif"
)
DOT_FONT = FONT_FAMILY  # Graphviz's fontname: the SVG it draws passes the list on to the browser
PLOTLY_TEMPLATE = "fusion_lab_fonts"


def _use_chart_fonts() -> None:
    """Every Plotly figure made from now on uses FONT_FAMILY, on top of Streamlit's own template."""
    import plotly.graph_objects as go
    import plotly.io as pio

    if PLOTLY_TEMPLATE not in pio.templates:
        pio.templates[PLOTLY_TEMPLATE] = go.layout.Template(layout={"font": {"family": FONT_FAMILY}})
    default = str(pio.templates.default or "")
    if PLOTLY_TEMPLATE not in default.split("+"):
        pio.templates.default = f"{default}+{PLOTLY_TEMPLATE}" if default else PLOTLY_TEMPLATE


_use_chart_fonts()


def _session_language() -> str | None:
    try:
        return st.session_state.get("lang")
    except Exception:  # outside a Streamlit script run (engine tests, bare imports)
        return None


def language() -> str:
    """The visitor's language: the session's choice, else FUSION_LAB_LANG, else English."""
    lang = _session_language() or os.environ.get("FUSION_LAB_LANG", DEFAULT_LANGUAGE)
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def t(key: str, **values) -> str:
    """The text for `key` in the visitor's language, falling back to English, then to the key."""
    text = STRINGS.get(language(), {}).get(key) or STRINGS[DEFAULT_LANGUAGE].get(key) or key
    if values:
        try:
            return text.format(**values)
        except (KeyError, IndexError, ValueError):
            return text
    return text


def t_in(lang: str, key: str, **values) -> str:
    """The text for `key` in `lang` whatever the visitor's language (a bilingual glossary shows both)."""
    text = STRINGS.get(lang, {}).get(key) or STRINGS[DEFAULT_LANGUAGE].get(key) or key
    return text.format(**values) if values else text


def has(key: str) -> bool:
    """Whether the catalog knows `key` (for words built from engine names, which may be new)."""
    return key in STRINGS[DEFAULT_LANGUAGE]


def sync_language() -> str:
    """Called once per run by app.py: take `?lang=` into the session and keep the URL in step.

    An unknown value in the URL is ignored (English, or the session's choice, stays) and dropped
    from the URL; the switch in the sidebar writes the session key, and the next run mirrors it.
    """
    asked = st.query_params.get(LANG_PARAM)
    if "lang" not in st.session_state:
        st.session_state["lang"] = asked if asked in LANGUAGES else language()
    elif asked in LANGUAGES and st.session_state.get("_lang_in_url") != asked:
        st.session_state["lang"] = asked  # a link with another ?lang= opened in this session
    lang = language()
    if lang == DEFAULT_LANGUAGE:
        if LANG_PARAM in st.query_params:
            del st.query_params[LANG_PARAM]
    elif st.query_params.get(LANG_PARAM) != lang:
        st.query_params[LANG_PARAM] = lang
    st.session_state["_lang_in_url"] = lang
    return lang


def language_ui() -> None:
    """The sidebar's language switch (English / 简体中文)."""
    st.radio(
        t("language.switch"),
        list(LANGUAGES),
        format_func=LANGUAGES.get,
        key="lang",
        horizontal=True,
    )
