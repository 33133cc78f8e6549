"""Escaping of prose for LaTeX and for Markdown.

Design rule: text written by a problem author is *data*.  Every character of it renders
literally: the ten LaTeX specials ``% & _ # $ { } ~ ^ \\`` never act as markup, and the
Markdown specials never start emphasis, links or maths.  Mathematics reaches a document only
through :mod:`derive.render.printer`, never through prose.

A few Unicode characters that authors like to type in prose (``×``, ``≤``, ``→``, Greek
letters...) are mapped to their LaTeX spelling in :data:`UNICODE_TO_LATEX`; any other
character that pdflatex cannot typeset raises :class:`~derive.errors.InputError` naming the
character, instead of a LaTeX error later in the build.
"""

from __future__ import annotations

import re
import unicodedata

from derive.errors import InputError

# The LaTeX specials and what prints each of them literally (T1 font encoding).
LATEX_SPECIALS: dict[str, str] = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "%": r"\%",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    # Not specials, but ligatures or odd glyphs in T1 when typed in prose.
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
}

_GREEK = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron "
          "pi rho sigma tau upsilon phi chi psi omega").split()

# Unicode characters typed in prose -> LaTeX.  One table, extended here when needed.
UNICODE_TO_LATEX: dict[str, str] = {
    "×": r"\ensuremath{\times}",
    "·": r"\ensuremath{\cdot}",
    "−": r"\ensuremath{-}",
    "±": r"\ensuremath{\pm}",
    "≤": r"\ensuremath{\leq}",
    "≥": r"\ensuremath{\geq}",
    "≠": r"\ensuremath{\neq}",
    "≈": r"\ensuremath{\approx}",
    "≡": r"\ensuremath{\equiv}",
    "∈": r"\ensuremath{\in}",
    "→": r"\ensuremath{\to}",
    "←": r"\ensuremath{\leftarrow}",
    "↦": r"\ensuremath{\mapsto}",
    "⇒": r"\ensuremath{\Rightarrow}",
    "∞": r"\ensuremath{\infty}",
    "√": r"\ensuremath{\surd}",
    "∑": r"\ensuremath{\sum}",
    "⌊": r"\ensuremath{\lfloor}",
    "⌋": r"\ensuremath{\rfloor}",
    "⌈": r"\ensuremath{\lceil}",
    "⌉": r"\ensuremath{\rceil}",
    "…": r"\dots{}",
    "–": "--",
    "—": "---",
    "‘": "`",
    "’": "'",
    "“": "``",
    "”": "''",
    "²": r"\textsuperscript{2}",
    "³": r"\textsuperscript{3}",
    "¹": r"\textsuperscript{1}",
    "°": r"\ensuremath{^\circ}",
    "\u00a0": "~",
    "\t": " ",
    "\r": "",
}
for _name in _GREEK:
    _uname = "LAMDA" if _name == "lambda" else _name.upper()  # Unicode's spelling
    _lower = unicodedata.lookup(f"GREEK SMALL LETTER {_uname}")
    _upper = unicodedata.lookup(f"GREEK CAPITAL LETTER {_uname}")
    UNICODE_TO_LATEX[_lower] = ("o" if _name == "omicron" else
                                r"\ensuremath{\%s}" % ("varepsilon" if _name == "epsilon"
                                                       else _name))
    if _name.capitalize() in ("Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma",
                              "Upsilon", "Phi", "Psi", "Omega"):
        UNICODE_TO_LATEX[_upper] = r"\ensuremath{\%s}" % _name.capitalize()

_LATEX_TABLE = {**LATEX_SPECIALS, **UNICODE_TO_LATEX}


def escape_latex(text: str) -> str:
    """``text`` as LaTeX that prints it literally.

    >>> escape_latex("50% of {x_i} costs $5 & #1 ~ ^ \\\\")
    '50\\\\% of \\\\{x\\\\_i\\\\} costs \\\\$5 \\\\& \\\\#1 \\\\textasciitilde{} \\\\textasciicircum{} \\\\textbackslash{}'
    >>> print(escape_latex("3×3 kernel, stride ≥ 2"))
    3\\ensuremath{\\times}3 kernel, stride \\ensuremath{\\geq} 2
    >>> print(escape_latex("see derive.conv.costs"))
    see derive.\\allowbreak{}conv.\\allowbreak{}costs
    """
    if not isinstance(text, str):
        raise InputError(f"got text={text!r}; text to escape must be a str")
    out: list[str] = []
    breaks = _break_points(text)
    for i, ch in enumerate(text):
        rep = _LATEX_TABLE.get(ch)
        if i in breaks:
            out.append((rep or ch) + r"\allowbreak{}")
        elif rep is not None:
            out.append(rep)
        elif ch == "\n" or " " <= ch <= "~" or _latin1_ok(ch):
            out.append(ch)
        else:
            raise InputError(
                f"got character {ch!r} (U+{ord(ch):04X}) in text {_clip(text)!r}; pdflatex "
                f"cannot typeset it: write it in ASCII or add it to "
                f"derive.render.escape.UNICODE_TO_LATEX")
    return "".join(out)


# Dotted names such as derive.conv.shapes.output_size are one long word to TeX: a line may
# break after their dots and underscores, or they would run into the margin.
_DOTTED_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*){2,}")


def _break_points(text: str) -> set[int]:
    """Positions of the dots and underscores inside dotted names of ``text``."""
    return {m.start() + k for m in _DOTTED_NAME.finditer(text)
            for k, ch in enumerate(m.group()) if ch in "._"}


def escape_latex_paragraphs(text: str) -> str:
    """Escape ``text`` and keep its paragraph breaks (blank lines) and nothing else.

    >>> escape_latex_paragraphs("one\\ntwo\\n\\n\\nthree")
    'one two\\n\\nthree'
    """
    paras = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip())]
    return "\n\n".join(escape_latex(p) for p in paras if p)


# Characters with a meaning somewhere in GitHub-flavoured Markdown (including its $ maths).
_MD_SPECIALS = set("\\`*_{}[]<>#|$~^&!")
_MD_LINE_START = re.compile(r"^(\s*)([-+=>]|\d+[.)])", re.MULTILINE)


def escape_markdown(text: str) -> str:
    """``text`` as GitHub Markdown that shows it literally (no emphasis, links or maths).

    >>> escape_markdown("a_b * $5 & {x}")
    'a\\\\_b \\\\* \\\\$5 \\\\& \\\\{x\\\\}'
    >>> escape_markdown("- not a list")
    '\\\\- not a list'
    """
    if not isinstance(text, str):
        raise InputError(f"got text={text!r}; text to escape must be a str")
    body = "".join("\\" + ch if ch in _MD_SPECIALS else ch for ch in text)
    return _MD_LINE_START.sub(lambda m: m.group(1) + _md_escape_marker(m.group(2)), body)


def escape_markdown_paragraphs(text: str) -> str:
    """Escape ``text`` for Markdown, keeping paragraph breaks and joining other lines.

    >>> escape_markdown_paragraphs("a\\nb\\n\\nc")
    'a b\\n\\nc'
    """
    paras = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip())]
    return "\n\n".join(escape_markdown(p) for p in paras if p)


def _md_escape_marker(marker: str) -> str:
    if marker[-1] in ".)":
        return marker[:-1] + "\\" + marker[-1]
    return "\\" + marker


def _latin1_ok(ch: str) -> bool:
    """Accented Latin letters that pdflatex's utf8 input with T1 fonts can typeset."""
    return "\u00c0" <= ch <= "\u00ff" and ch not in "\u00d7\u00f7"


def _clip(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."
