"""The glossary's terms: ids by section; their words live in the catalogs (glossary.<id>.term/.text).

Every term is shown in both languages (the visitor's first), so a student can match the English of a
paper with the Chinese of a lecture; the explanation is in the visitor's language.
"""

from __future__ import annotations

from ui.i18n import DEFAULT_LANGUAGE, LANGUAGES, language, t, t_in

GLOSSARY: dict[str, tuple[str, ...]] = {
    "training": (
        "epoch", "batch", "learning_rate", "optimizer", "loss", "cross_entropy", "softmax", "activation",
        "initialisation", "parameters", "overfitting", "dropout", "l2", "early_stopping",
    ),
    "networks": ("stacked_network", "cnn", "lstm"),
    "fusion": (
        "fusion", "member", "parallel", "serial", "hybrid", "soft_vote", "hard_vote", "stacking",
        "meta_learner", "bootstrap", "bagging",
    ),
    "measuring": (
        "stratified", "dataset_size", "validation", "test_set", "accuracy", "confusion_matrix",
        "disagreement", "error_correlation", "oracle", "robustness", "pareto",
    ),
}  # fmt: skip


def term_pair(term: str) -> tuple[str, str]:
    """(the term in the visitor's language, the term in the other language)."""
    lang = language()
    other = next((code for code in LANGUAGES if code != lang), DEFAULT_LANGUAGE)
    key = f"glossary.{term}.term"
    return t_in(lang, key), t_in(other, key)


def matching_terms(query: str) -> dict[str, list[str]]:
    """The terms by section whose name (in any language) or explanation contains `query`."""
    needle = query.strip().casefold()

    def matches(term: str) -> bool:
        names = [t_in(lang, f"glossary.{term}.term") for lang in LANGUAGES]
        return any(needle in text.casefold() for text in [*names, t(f"glossary.{term}.text")])

    return {
        section: [term for term in terms if not needle or matches(term)]
        for section, terms in GLOSSARY.items()
    }
