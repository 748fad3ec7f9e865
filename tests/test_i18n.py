"""The catalogs: every language has the same keys and placeholders, and every key the code asks for."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from ui import i18n

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = [lang for lang in i18n.LANGUAGES if lang != i18n.DEFAULT_LANGUAGE]


IDENTIFIER = re.compile(r"^[A-Za-z_]\w*$")


def placeholders(text: str) -> set[str]:
    """The {names} a text is filled with (a DOT diagram's braces are not placeholders)."""
    try:
        fields = [field for _, field, _, _ in string.Formatter().parse(text) if field is not None]
    except ValueError:  # unbalanced braces: a text that is never formatted
        return set()
    return {field for field in fields if IDENTIFIER.match(field)}


def test_english_catalog_has_words_for_every_key():
    english = i18n.STRINGS["en"]
    assert len(english) > 400
    assert not [key for key, text in english.items() if not text.strip()]


@pytest.mark.parametrize("lang", TRANSLATIONS)
def test_translation_has_the_same_keys_and_placeholders(lang):
    english, other = i18n.STRINGS["en"], i18n.STRINGS[lang]
    assert sorted(set(english) - set(other)) == [], f"{lang}.toml lacks these keys"
    assert sorted(set(other) - set(english)) == [], f"{lang}.toml has keys English does not"
    wrong = {key: (placeholders(english[key]), placeholders(other[key])) for key in other}
    assert {k: v for k, v in wrong.items() if v[0] != v[1]} == {}
    assert not [key for key, text in other.items() if not text.strip()]


def test_every_literal_key_in_the_code_is_in_the_catalog():
    pattern = re.compile(r"""\bt\(\s*["']([a-z0-9_]+(?:\.[a-z0-9_]+)+)["']""")
    asked = set()
    for folder in ("pages", "ui"):
        for path in (ROOT / folder).rglob("*.py"):
            asked |= set(pattern.findall(path.read_text(encoding="utf-8")))
    asked |= set(pattern.findall((ROOT / "app.py").read_text(encoding="utf-8")))
    assert len(asked) > 300
    assert sorted(asked - set(i18n.STRINGS["en"])) == []


def test_t_falls_back_to_english_then_to_the_key(monkeypatch):
    monkeypatch.setitem(i18n.STRINGS, "zh", {"app.title": "融合实验室"})
    monkeypatch.setenv("FUSION_LAB_LANG", "zh")
    assert i18n.t("app.title") == "融合实验室"
    assert i18n.t("nav.learn") == i18n.STRINGS["en"]["nav.learn"]
    assert i18n.t("no.such.key") == "no.such.key"
    monkeypatch.setenv("FUSION_LAB_LANG", "xx")
    assert i18n.language() == "en"


def test_t_fills_placeholders_and_survives_missing_values():
    assert "CPU" in i18n.t("sidebar.device", device="CPU", backend="tensorflow")
    assert i18n.t("sidebar.device") == i18n.STRINGS["en"]["sidebar.device"]
