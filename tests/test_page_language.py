"""Every word a page shows comes from the catalog: no page has English left in another language.

The real Chinese catalog is checked page by page in a browser (tests/browser/test_browser_language.py).
Here each page runs under AppTest with a pseudo-translation: every English word of en.toml replaced
by a Chinese character, placeholders, markup and names kept. Any Latin word left in what the page
shows (titles, text, widget labels, options, help, table headers, chart titles, axes, legends and
hovers, diagram labels, the words in formulas) was therefore never looked up in the catalog. This
covers what a browser shows only on interaction: tooltips, the options of a closed select box, the
headers of a table drawn on a canvas.
"""

from __future__ import annotations

import json
import re

import pytest
from google.protobuf.json_format import MessageToDict
from page_support import open_page

from tests.language_support import latin_words, pseudo_catalog
from ui import i18n

pytestmark = pytest.mark.usefixtures("app_home")
PAGES = ("learn", "train", "draw", "runs", "glossary", "data_size", "overfitting", "robustness", "cost")

# -- what a page shows, from AppTest's element tree --------------------------------------------------

# The fields of Streamlit's elements that hold words a visitor reads.
_ELEMENT_TEXT = {"body", "label", "help", "options", "captions", "placeholder", "text", "content", "caption"}
_PLOTLY_TEXT = {"text", "name", "hovertemplate", "texttemplate", "ticktext"}


def _strings(value, keys):
    """Every string under one of `keys`, however deep."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k in keys:
                yield from _all_strings(v)
            elif isinstance(v, (dict, list)):
                yield from _strings(v, keys)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v, keys)


def _all_strings(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _all_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _all_strings(v)
    elif isinstance(value, str):
        yield value


def _spec_text(spec: str) -> list[str]:
    if spec.lstrip().startswith(("digraph", "graph")):  # Graphviz: the labels, tags dropped
        labels = re.findall(r'label=(?:"((?:[^"\\]|\\.)*)"|<(.*?)>\];)', spec)
        return [re.sub(r"<[^>]+>", " ", text) for pair in labels for text in pair if text]
    figure = json.loads(spec)
    figure.get("layout", {}).pop("template", None)
    return [re.sub(r"%\{[^}]*\}|<[^>]+>", " ", s) for s in _strings(figure, _PLOTLY_TEXT)]


def _markdown(text: str) -> str:
    text = re.sub(r":material/\w+:|:\w+\[|<[^>]+>", " ", text)  # icons, colour directives, HTML
    return re.sub(r"\$\$?([^$]*)\$\$?", lambda m: _latex(m.group(1)), text)


def _latex(tex: str) -> str:
    return " ".join(re.findall(r"\\(?:text|mathrm|operatorname)\{([^{}]*)\}", tex))


def shown_text(at) -> str:
    parts = []

    def walk(node):
        children = getattr(node, "children", None)
        for child in children.values() if isinstance(children, dict) else children or []:
            walk(child)
        proto = getattr(node, "proto", None)
        if proto is None:
            return
        name = type(node).__name__
        if name == "Dataframe":
            parts.extend(str(c) for c in node.value.columns)
            return
        fields = MessageToDict(proto)
        if "spec" in fields:
            parts.extend(_spec_text(fields.pop("spec")))
        if name == "Latex":
            parts.append(_latex(fields.pop("body", "")))
        parts.extend(_markdown(s) for s in _strings(fields, _ELEMENT_TEXT))

    walk(at._tree)
    return "\n".join(parts)


@pytest.mark.parametrize("page", PAGES)
def test_every_word_on_the_page_comes_from_the_catalog(page, monkeypatch):
    monkeypatch.setitem(i18n.STRINGS, "zh", pseudo_catalog(i18n.STRINGS["en"]))
    monkeypatch.setenv("FUSION_LAB_LANG", "zh")
    at = open_page(page)
    assert at.title, "the page drew nothing"
    text = shown_text(at)
    assert text.count(i18n.STRINGS["zh"][f"nav.{page}"]) >= 1  # the collector reads the menu and title
    allowed = {"English"}  # the language switch names each language in that language
    if page == "glossary":  # each term is shown in English beside the Chinese, on purpose
        allowed |= {
            w
            for k, v in i18n.STRINGS["en"].items()
            if k.endswith(".term")
            for w in re.findall(r"[A-Za-z]+", v)
        }
    assert sorted(set(latin_words(text, allowed))) == []


def test_the_collector_finds_english_on_an_english_page():
    at = open_page("train")
    text = shown_text(at)
    for english in (
        "Fusion rule",
        "Units per layer",
        "Stacked LSTMs" if False else "Batch size",
        "Parameters",
    ):
        assert english in text
    assert len(latin_words(text)) > 200
