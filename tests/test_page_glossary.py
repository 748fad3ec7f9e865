"""Glossary: every term in English and Chinese, explained in the visitor's language, searchable."""

from __future__ import annotations

import pytest
from page_support import open_page

from tests.language_support import latin_words
from ui.glossary import GLOSSARY
from ui.i18n import STRINGS

pytestmark = pytest.mark.usefixtures("app_home")
EN, ZH = STRINGS["en"], STRINGS["zh"]
TERMS = [term for terms in GLOSSARY.values() for term in terms]
REQUIRED = (
    "bootstrap", "meta_learner", "stratified", "cross_entropy", "pareto", "softmax", "epoch", "batch",
    "learning_rate", "overfitting", "robustness", "soft_vote", "hard_vote", "stacking", "dropout",
    "initialisation", "member", "oracle", "disagreement", "error_correlation", "cnn", "lstm",
)  # fmt: skip


@pytest.fixture
def chinese(monkeypatch):
    """The server's default language set to Chinese. (A ?lang=zh link is the browser test's part: AppTest
    runs a switched-to page without app.py's sidebar, which drops the switch's session value.)"""
    monkeypatch.setenv("FUSION_LAB_LANG", "zh")


def entries(at) -> list[str]:
    return [m.value for m in at.markdown if " · " in m.value]


def test_the_glossary_has_the_jargon_in_both_catalogs():
    assert len(TERMS) >= 25 and len(set(TERMS)) == len(TERMS)
    assert set(REQUIRED) <= set(TERMS)
    for term in TERMS:
        for catalog in (EN, ZH):
            assert catalog[f"glossary.{term}.term"].strip() and catalog[f"glossary.{term}.text"].strip()
        assert EN[f"glossary.{term}.term"] != ZH[f"glossary.{term}.term"] or term in ("lstm",)


def test_english_page_shows_each_term_in_both_languages():
    at = open_page("glossary")
    assert at.title[0].value == EN["glossary.title"]
    shown = entries(at)
    assert len(shown) == len(TERMS)
    bootstrap = next(e for e in shown if e.startswith(f"**{EN['glossary.bootstrap.term']}**"))
    assert ZH["glossary.bootstrap.term"] in bootstrap and EN["glossary.bootstrap.text"] in bootstrap
    assert [s.value for s in at.subheader] == [EN[f"glossary.section.{s}"] for s in GLOSSARY]


def test_chinese_page_explains_in_chinese_with_the_english_term_beside(chinese):
    at = open_page("glossary")
    assert at.title[0].value == ZH["glossary.title"]
    shown = entries(at)
    assert len(shown) == len(TERMS)
    pareto = next(e for e in shown if e.startswith(f"**{ZH['glossary.pareto.term']}**"))
    assert f"· {EN['glossary.pareto.term']}" in pareto and ZH["glossary.pareto.text"] in pareto
    english_terms = " ".join(EN[f"glossary.{t}.term"] for t in TERMS).replace("-", " ").split()
    for entry in shown:  # the only English is the term's own name
        assert latin_words(entry, english_terms) == [], entry


def test_search_finds_a_term_in_either_language_and_says_when_none_matches(chinese):
    at = open_page("glossary")
    at.text_input(key="glossary_search").input("cross-ENTROPY").run()
    [entry] = entries(at)
    assert entry.startswith(f"**{ZH['glossary.cross_entropy.term']}**")
    at.text_input(key="glossary_search").input(ZH["glossary.meta_learner.term"]).run()
    assert any(e.startswith(f"**{ZH['glossary.meta_learner.term']}**") for e in entries(at))
    at.text_input(key="glossary_search").input("no such term").run()
    assert entries(at) == [] and at.info
