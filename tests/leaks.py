"""Program text on a reader's page: the scanner behind the book's and the docs' leak tests.

A solutions manual shows mathematics and English.  What a reader must never see outside the
maths is the notation of the program that produced it: identifiers with underscores
(``x_pad``), ``*`` and ``**`` as operators, ``<-`` updates, ``==``, indexing ``W[i, j]``,
SymPy and NumPy names (``KroneckerDelta(``, ``Piecewise(``, ``np.``), dotted module paths,
Python dicts, tracebacks, and English made by a program ("1 positions", "time(s)").

Run on files as a checker for authors::

    python tests/leaks.py docs/solutions/chapter8/8.26.md build/solutions.tex
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

# (pattern, what it is) for prose with the maths taken out.
_PROSE_LEAKS: tuple[tuple[str, str], ...] = (
    (r"\b[A-Za-z]+\\?_[A-Za-z0-9]+\b", "an identifier with an underscore"),
    (r"[\w)\]]\s*\\?\*\\?\*?\s*[\w(]", "'*' or '**' as an operator"),
    (r"\\?<-|\\textless\{\}-", "an arrow '<-' typed as text"),
    (r"(?<![<>!=])==|!=|(?<![=<>])[<>]=", "a comparison operator typed as text"),
    (r"\b[A-Za-z]\w*\\?\[[^\]\s][^\]]*\\?\]", "program indexing 'x[i]'"),
    (r"\b(?:KroneckerDelta|Piecewise|Heaviside|Mod|Eq|Ne|And|Or|Sum|Product|Symbol|"
     r"Matrix|Integer|Rational|Float|floor|ceiling|sqrt|Abs|Max|Min|binomial|exp|"
     r"zeros|ones|array|range|len|round|Derivative)\(", "a function call in program notation"),
    (r"\b(?:np|numpy|torch|sympy|derive)\.[a-z_]", "a module path"),
    (r"\{\s*\\?['\"]|\\?['\"]\s*:\s", "a Python dict"),
    (r"Traceback|Error:|\bNone\b|\bTrue\b|\bFalse\b", "program output"),
    (r"\(s\)", "a plural made by a program: '(s)'"),
    (r"\b1 (?:positions|times|values|entries|instances|channels|pixels|parameters|weights|"
     r"steps|layers|paths|windows|cases|configurations|rows|columns|elements|blocks)\b",
     "'1' with a plural noun"),
    (r"\b\d+/\d+ times\b", "a fraction of times"),
    (r"\b\d+(?:\.\d+)?e[-+]?\d+\b", "a number in program notation (1e-12)"),
)
_PROSE = [(re.compile(p), what) for p, what in _PROSE_LEAKS]

# Markdown: maths is $...$, $`...`$ or a $$ block; code spans and HTML comments are not
# reader-facing prose either (there are none on a solution page, but a comment heads it).
# A listing (a fenced ``python`` block) and a code span (a file's path) are code shown as
# code, on purpose.
_MD_MATH = re.compile(r"^```python\n.*?^```$|\$\$.*?\$\$|\$`.*?`\$|(?<!\\)\$.+?(?<!\\)\$|<!--.*?-->"
                      r"|`[^`\n]+`", re.S | re.M)
# LaTeX: maths environments and inline maths, and TikZ pictures (drawing code).
_TEX_MATH = re.compile(
    r"\\begin\{(align\*|gather\*|equation\*|tikzpicture|DeriveListing)\}.*?\\end\{\1\}"
    r"|(?<=\})\{derive/lab/listings/[^{}]*\}"
    r"|\\\[.*?\\\]|(?<!\\)\$.+?(?<!\\)\$|\\(?:Answer|StepTag)\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*\}"
    r"|\\(?:label|ref|hyperref|href|url|input|include|usepackage|documentclass|newcommand"
    r"|renewcommand|definecolor|tikzset|pdfbookmark)\b(?:\[[^\]]*\])?(?:\{[^{}]*\})*"
    r"|^%.*$", re.S | re.M)


def leaks_in_prose(text: str) -> list[tuple[str, str]]:
    """``(what, excerpt)`` for each leak in ``text`` (prose, maths already removed).

    >>> leaks_in_prose("the padded input x_pad and S*i + D*u")[0][0]
    'an identifier with an underscore'
    >>> leaks_in_prose("a stride of 2 and a 3 by 3 kernel")
    []
    """
    out = []
    for pattern, what in _PROSE:
        for m in pattern.finditer(text):
            lo, hi = max(0, m.start() - 30), min(len(text), m.end() + 30)
            out.append((what, " ".join(text[lo:hi].split())))
    return out


def leaks_in_markdown(text: str) -> list[tuple[str, str]]:
    """Leaks in a Markdown page (its maths and comments are not scanned; an unescaped
    ``*`` is emphasis, a typed star is escaped)."""
    return leaks_in_prose(re.sub(r"(?<!\\)\*", " ", _MD_MATH.sub(" ", text)))


def leaks_in_latex(text: str) -> list[tuple[str, str]]:
    """Leaks in LaTeX: the prose left after maths, pictures and the preamble's commands."""
    body = _drop_commands(text.split(r"\begin{document}", 1)[-1],
                          {"Answer": 1, "FitMath": 2, "StepTag": 2})
    prose = _TEX_MATH.sub(" ", body).replace(r"\allowbreak{}", "")
    for escaped, char in _TEX_LITERALS.items():
        prose = prose.replace(escaped, char)
    return leaks_in_prose(prose)


def _drop_commands(text: str, names: dict[str, int]) -> str:
    """``text`` without ``\\name{...}...`` and its arguments (maths), braces matched at any
    depth."""
    for name, count in names.items():
        out, pos, opener = [], 0, "\\" + name + "{"
        while (start := text.find(opener, pos)) >= 0:
            out.append(text[pos:start])
            i = start + len(opener) - 1
            for _ in range(count):
                depth = 0
                while i < len(text):
                    if text[i - 1] != "\\":
                        depth += {"{": 1, "}": -1}.get(text[i], 0)
                    i += 1
                    if depth == 0:
                        break
            pos = i
        out.append(text[pos:])
        text = " ".join(out)
    return text


# What escape_latex writes for a character typed in prose, back to the character.
_TEX_LITERALS = {r"\_": "_", r"\textasciicircum{}": "^", r"\textless{}": "<",
                 r"\textgreater{}": ">", r"\{": "{", r"\}": "}", r"\&": "&", r"\#": "#",
                 r"\%": "%", r"\$": "$", r"\textbar{}": "|"}


def main(paths: list[str]) -> int:
    found = 0
    for path in paths:
        text = Path(path).read_text(encoding="utf-8")
        leaks = leaks_in_latex(text) if path.endswith(".tex") else leaks_in_markdown(text)
        for what, excerpt in leaks:
            found += 1
            print(f"{path}: {what}: ...{excerpt}...")
    print(f"{found} leak(s) in {len(paths)} file(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
