"""LaTeX and Markdown escaping: problem text renders literally."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, strategies as st

from derive.errors import InputError
from derive.render.escape import (
    LATEX_SPECIALS, escape_latex, escape_latex_paragraphs, escape_markdown,
    escape_markdown_paragraphs,
)

SPECIALS = "%&_#${}~^\\"
ascii_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60)


def unescape_latex(tex: str) -> str:
    """Undo escape_latex for ASCII text (an independent reading of the output)."""
    words = {r"\textbackslash{}": "\\", r"\textasciitilde{}": "~", r"\textasciicircum{}": "^",
             r"\textless{}": "<", r"\textgreater{}": ">", r"\textbar{}": "|",
             r"\allowbreak{}": ""}     # a line-break opportunity after a dotted name's dot
    out, i = [], 0
    while i < len(tex):
        for word, ch in words.items():
            if tex.startswith(word, i):
                out.append(ch)
                i += len(word)
                break
        else:
            if tex[i] == "\\":
                assert tex[i + 1] in "{}$&#%_", f"unexpected control sequence at {tex[i:]!r}"
                out.append(tex[i + 1])
                i += 2
            else:
                out.append(tex[i])
                i += 1
    return "".join(out)


@given(ascii_text)
@example(SPECIALS)
@example("\\\\{}")
@example("A.A.A")
def test_latex_escape_round_trips(text: str) -> None:
    assert unescape_latex(escape_latex(text)) == text


@given(ascii_text)
@example(SPECIALS)
def test_latex_escape_leaves_no_active_character(text: str) -> None:
    tex = escape_latex(text)
    # Remove the escapes we emit; nothing active may be left.
    stripped = re.sub(r"\\(text[a-z]+\{\}|[{}$&#%_])", "", tex)
    assert not set(stripped) & set(SPECIALS)


def test_every_special_has_one_spelling() -> None:
    for ch in SPECIALS:
        assert escape_latex(ch) == LATEX_SPECIALS[ch]
    assert escape_latex(SPECIALS) == (r"\%\&\_\#\$\{\}\textasciitilde{}\textasciicircum{}"
                                      r"\textbackslash{}")


def test_unicode_maths_in_prose_is_mapped() -> None:
    assert escape_latex("3×3, s ≥ 2, α") == (r"3\ensuremath{\times}3, s \ensuremath{\geq} 2, "
                                              r"\ensuremath{\alpha}")
    assert escape_latex("café") == "café"


def test_untypesettable_character_is_named() -> None:
    with pytest.raises(InputError, match=r"U\+1F600"):
        escape_latex("smile \U0001F600")
    with pytest.raises(InputError, match="must be a str"):
        escape_latex(3)  # type: ignore[arg-type]


def test_paragraphs_are_kept_and_lines_joined() -> None:
    assert escape_latex_paragraphs("a\nb\n\n\nc %") == "a b\n\nc \\%"
    assert escape_markdown_paragraphs(" a\n b \n\n c_d ") == "a b\n\nc\\_d"


@given(ascii_text)
@example(SPECIALS)
@example("1. not a list")
@example("# not a heading")
def test_markdown_escape_is_literal(text: str) -> None:
    md = escape_markdown(text)
    # Removing one backslash before each escaped character gives the text back.
    assert re.sub(r"\\(.)", r"\1", md) == text
    # No special character is left unescaped.
    unescaped = re.sub(r"\\.", "", md)
    assert not set(unescaped) & set("\\`*_{}[]<>#|$~^&!")


def test_markdown_line_starts_are_not_markup() -> None:
    assert escape_markdown("- item") == "\\- item"
    assert escape_markdown("12. item") == "12\\. item"
    assert escape_markdown("+ x\n= y") == "\\+ x\n\\= y"
