"""User text (run names, URL values, file names) shown as text, never as Markdown.

Streamlit renders Markdown in st.markdown, st.caption, st.success/info/warning/error, st.toast,
widget labels and the options of radio and selectbox. A run named `![](http://host/x.png)` would
make every visitor's browser fetch that address, `**` would shout, `:red[...]` would colour.
`safe()` escapes every character Markdown (and Streamlit's extensions: colour directives, emoji
short codes, LaTeX between dollars) gives a meaning, so the text is shown exactly as typed.
"""

from __future__ import annotations

import html
import re

# CommonMark lets a backslash escape any ASCII punctuation; these are the ones with a meaning in
# Markdown, GitHub-flavoured Markdown or Streamlit's extensions (":" starts directives and emoji).
_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:=&\"'])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")  # newlines would start a new block


def safe(text: object) -> str:
    """`text` as a string that Markdown shows literally: one line, every special character escaped."""
    return _SPECIAL.sub(r"\\\1", _CONTROL.sub(" ", str(text)))


def plain(text: object) -> str:
    """`text` for a Plotly title, legend or hover label, which read a few HTML tags (<a>, <b>, <br>)."""
    return html.escape(_CONTROL.sub(" ", str(text)), quote=False)
