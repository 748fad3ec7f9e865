"""Every user-facing string, looked up by key: `t("train.title")`.

English now; another language is one more dict in STRINGS with the same keys. A page never
hard-codes text, so a missing key shows up as the key itself (easy to spot, never a crash).
Pages register their own strings with `register("en", {...})` at import, keeping each page's text
next to the page while still going through this one helper.
"""

from __future__ import annotations

import os

DEFAULT_LANGUAGE = "en"
STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "app.title": "Fusion Lab",
        "app.tagline": "Learn deep learning and model fusion on real handwritten digits",
        "nav.learn": "Learn",
        "nav.train": "Train",
        "nav.draw": "Draw a digit",
        "nav.runs": "Runs",
        "nav.data_size": "Data size",
        "nav.overfitting": "Overfitting",
        "nav.robustness": "Robustness",
        "nav.cost": "Cost of fusion",
        "nav.section.explore": "Explore",
        "nav.section.labs": "Experiment labs",
        "sidebar.device": "Trains on {device} with {backend}",
        "sidebar.data_missing": "MNIST is not available yet: {error}",
        "error.generic": "Something went wrong: {error}. Nothing you made was lost; try again.",
    }
}


def language() -> str:
    lang = os.environ.get("FUSION_LAB_LANG", DEFAULT_LANGUAGE)
    return lang if lang in STRINGS else DEFAULT_LANGUAGE


def register(lang: str, strings: dict[str, str]) -> None:
    """Add a page's strings (later registrations of the same key win)."""
    STRINGS.setdefault(lang, {}).update(strings)


def t(key: str, **values) -> str:
    """The text for `key` in the current language, falling back to English, then to the key."""
    text = STRINGS.get(language(), {}).get(key) or STRINGS[DEFAULT_LANGUAGE].get(key) or key
    if values:
        try:
            return text.format(**values)
        except (KeyError, IndexError, ValueError):
            return text
    return text
