"""User text shown as text: Markdown and Plotly's HTML cannot make it do anything."""

import re

import pytest

from ui.text import plain, safe

NAMES = [
    "![](http://example.invalid/x.png)",
    "[click](javascript:alert(1))",
    "**bold** _it_ ~strike~ `code`",
    ":red[red] :material/home: :smile:",
    "$x^2$ and $$y$$",
    "# heading",
    "- item",
    "1. item",
    "> quote",
    "<img src=x onerror=alert(1)>",
    "a | b | c",
    r"back\slash",
]


@pytest.mark.parametrize("name", NAMES)
def test_every_markdown_character_is_escaped_and_nothing_is_lost(name):
    shown = safe(name)
    # Every punctuation character Markdown could read is preceded by a backslash...
    assert not re.search(r"(?<!\\)[\[\]()*_`~:$#<>|!]", shown.replace("\\\\", ""))
    # ...and removing the escapes gives the name back exactly.
    assert re.sub(r"\\(.)", r"\1", shown) == name


def test_control_characters_cannot_start_a_new_block():
    assert safe("first\n# second\r\nthird\x1b[31m") == "first \\# second third \\[31m"


def test_plain_escapes_html_for_plotly():
    assert plain("<a href='x'>run</a> & co") == "&lt;a href='x'&gt;run&lt;/a&gt; &amp; co"
