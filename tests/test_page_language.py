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
from page_support import open_page, wait_for

from fusion_core.data import synthetic_digits
from tests.language_support import context, latin_words, pseudo_catalog
from ui import i18n
from ui.state import get_store

SYNTHETIC = synthetic_digits(600)
pytestmark = pytest.mark.usefixtures("app_home")
PAGES = (
    "learn", "lesson", "train", "draw", "runs", "glossary", "data_size", "overfitting", "robustness", "cost",
)  # fmt: skip

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
        for k, v in value.items():
            if k in ("bdata", "dtype", "shape"):  # Plotly's typed arrays: numbers, base64-encoded
                continue
            yield from _all_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _all_strings(v)
    elif isinstance(value, str):
        yield value


def _spec_text(spec: str) -> list[str]:
    if spec.lstrip().startswith(("digraph", "graph")):  # Graphviz: the labels, tags dropped
        labels = re.findall(r'label=(?:"((?:[^"\\]|\\.)*)"|<(.*?)>\];)', spec)
        return [re.sub(r"<[^>]+>|\\n", " ", text) for pair in labels for text in pair if text]
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
        if name == "Dataframe":  # its headers: the column config's labels, else the column names
            labels = {k: (v or {}).get("label") for k, v in json.loads(proto.columns or "{}").items()}
            parts.extend(labels.get(str(c)) or str(c) for c in node.value.columns)
            return
        fields = MessageToDict(proto)
        if "spec" in fields:
            parts.extend(_spec_text(fields.pop("spec")))
        if name == "Latex":
            parts.append(_latex(fields.pop("body", "")))
        parts.extend(_markdown(s) for s in _strings(fields, _ELEMENT_TEXT))

    walk(at._tree)
    return "\n".join(parts)


@pytest.fixture
def pseudo_chinese(monkeypatch):
    monkeypatch.setitem(i18n.STRINGS, "zh", pseudo_catalog(i18n.STRINGS["en"]))
    monkeypatch.setenv("FUSION_LAB_LANG", "zh")


def english_left(at, page: str, names: set[str] = frozenset()) -> list[str]:
    allowed = {"English", *names}  # the language switch names each language in that language
    if page == "glossary":  # each term is shown in English beside the Chinese, on purpose
        terms = " ".join(v for k, v in i18n.STRINGS["en"].items() if k.endswith(".term"))
        allowed |= set(re.findall(r"[A-Za-z]+", terms))
    text = shown_text(at)
    return sorted({f"{word}: {context(text, word)}" for word in latin_words(text, allowed)})


@pytest.mark.parametrize("page", PAGES)
def test_every_word_on_the_page_comes_from_the_catalog(page, pseudo_chinese):
    at = open_page(page)
    assert at.title, "the page drew nothing"
    assert i18n.STRINGS["zh"][f"nav.{page}"] in shown_text(at)  # the collector reads the menu and title
    assert english_left(at, page) == []


def test_after_a_tiny_fusion_trains_its_results_and_the_pages_that_list_it_come_from_the_catalog(
    pseudo_chinese,
):
    at = open_page("train")
    at.radio(key="train_fusion_type").set_value("parallel").run()
    at.slider(key="train_num_members").set_value(2).run()
    at.slider(key="train_hidden_layers").set_value(1)
    at.select_slider(key="train_hidden_units").set_value(16)
    at.slider(key="train_epochs").set_value(1)
    at.select_slider(key="train_train_size").set_value(100)
    at.run()
    at.button(key="train_button").click().run()
    wait_for(at, lambda a: len(a.dataframe) > 1)  # the results table and the diversity table
    assert len(at.get("plotly_chart")) == 4  # loss, accuracy, confusion matrix, the diversity bars
    assert english_left(at, "train") == []
    # A run's name is the visitor's own words (the store names a new run "Run 12" until it is renamed).
    run_names = {w for run in get_store().list_runs() for w in re.findall(r"[A-Za-z]+", run["name"])}
    for page in ("runs", "draw", "robustness", "cost"):
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, at.exception
        assert english_left(at, page, run_names) == [], page


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
