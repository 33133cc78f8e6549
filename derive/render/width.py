"""How wide a piece of LaTeX maths prints, estimated from its source, in characters.

Design rule: the estimate only chooses a layout (one line, or a display of its own); it never
scales anything.  Scaling is left to LaTeX (``\\FitMath`` shrinks a box only when it is
really wider than its room), so a rough estimate can cost a less compact layout but never
lets a line run off the page.

A character here is one glyph of 10 pt maths, about 5.5 pt; the text block of the book is
about 78 of them wide.

>>> tex_width(r"\\frac{H + 2 P}{S} + 1")
8.4
>>> tex_width(r"\\begin{bmatrix}1 & 0\\\\0 & 1\\end{bmatrix}")
5.4
>>> tex_width(r"x_{0, 0, 1}") < tex_width("x0, 0, 1")
True
>>> tex_width(r"\\begin{bmatrix}\\begin{cases}a & b\\end{cases} & 1\\\\2 & 3\\end{bmatrix} + y")
12.8
"""

from __future__ import annotations

import re

# Commands that print nothing themselves: their arguments are measured in their place.
_SILENT = {"left", "right", "big", "Big", "bigg", "Bigg", "mathrm", "mathit", "mathbf",
           "mathsf", "mathtt", "mathcal", "mathbb", "operatorname", "text", "textit",
           "textbf", "textrm", "displaystyle", "boxed", "notag", "nonumber", "limits",
           "mathrlap", "mathllap", "phantom", "footnotesize", "small", "itshape"}
# Commands that are spacing, measured in characters.
_SPACES = {",": 0.3, ":": 0.4, ";": 0.5, "quad": 1.8, "qquad": 3.6, " ": 0.5, "!": -0.3,
           "enspace": 0.9}
_SCRIPT = 0.7          # sub- and superscripts print smaller
_CELL_GAP = 1.8        # the space between two matrix columns
_OPERATOR = 2.0        # a binary operator or relation with the space around it
_DELIMITERS = 1.6      # the brackets around a matrix

_TOKEN = re.compile(r"\\[A-Za-z]+\*?|\\.|[{}_^&]|\s+|[^\\{}_^&\s]")


def tex_width(tex: str) -> float:
    """The estimated printed width of ``tex`` (maths), in characters of 10 pt maths."""
    tokens = _TOKEN.findall(tex)
    width, _ = _row(tokens, 0, stop=None)
    return round(width, 1)


def _group(tokens: list[str], i: int) -> tuple[float, int]:
    """Width of one argument starting at ``tokens[i]``: a braced group or one token."""
    while i < len(tokens) and tokens[i].isspace():
        i += 1
    if i >= len(tokens):
        return 0.0, i
    if tokens[i] == "{":
        return _row(tokens, i + 1, stop="}")
    return _row(tokens[i:i + 1], 0, stop=None)[0], i + 1


def _row(tokens: list[str], i: int, stop: str | None) -> tuple[float, int]:
    """Width of the tokens from ``i`` up to the closing ``stop`` (consumed); a matrix
    environment counts as its widest row."""
    width = 0.0
    while i < len(tokens):
        t = tokens[i]
        if t == stop:
            return width, i + 1
        if t == "{":
            w, i = _row(tokens, i + 1, stop="}")
            width += w
            continue
        if t in ("_", "^"):
            w, i = _group(tokens, i + 1)
            width += _SCRIPT * w
            continue
        if t in ("\\frac", "\\dfrac", "\\tfrac", "\\binom"):
            top, i = _group(tokens, i + 1)
            bottom, i = _group(tokens, i)
            width += max(top, bottom) + 0.4
            continue
        if t == "\\begin":
            _, i = _group(tokens, i + 1)          # the environment's name prints nothing
            w, i = _environment(tokens, i)
            width += w
            continue
        if t == "\\end":
            _, i = _group(tokens, i + 1)
            return width, i
        if t.startswith("\\"):
            name = t[1:].rstrip("*")
            if name in _SPACES:
                width += _SPACES[name]
            elif name not in _SILENT:
                width += 1.0                       # a symbol, an operator name's glyph
            i += 1
            continue
        if not t.isspace():
            width += _OPERATOR if t in "+-=<>" else 1.0
        i += 1
    return width, i


def _environment(tokens: list[str], i: int) -> tuple[float, int]:
    """Width of a matrix-like environment body: its widest row, cells side by side, plus
    its delimiters.  A nested environment is one piece of its cell (see
    :func:`_next_piece`), so the first ``\\end`` met here closes this one."""
    rows: list[float] = []
    cells: list[float] = [0.0]
    while i < len(tokens) and tokens[i] != "\\end":
        t = tokens[i]
        if t == "&":
            cells.append(0.0)
            i += 1
        elif t == "\\\\":
            rows.append(sum(cells) + _CELL_GAP * (len(cells) - 1))
            cells = [0.0]
            i += 1
        else:
            j = _next_piece(tokens, i)
            cells[-1] += _row(tokens[i:j], 0, stop=None)[0]
            i = j
    rows.append(sum(cells) + _CELL_GAP * (len(cells) - 1))
    if i < len(tokens):
        _, i = _group(tokens, i + 1)           # the closing \end{name}
    return max(rows) + _DELIMITERS, i


def _next_piece(tokens: list[str], i: int) -> int:
    """The end of the piece starting at ``i``: a balanced braced group, a nested
    environment, a command with its scripts, or one token."""
    t = tokens[i]
    if t == "{":
        depth = 0
        for j in range(i, len(tokens)):
            depth += tokens[j] == "{"
            depth -= tokens[j] == "}"
            if depth == 0:
                return j + 1
        return len(tokens)
    if t == "\\begin":
        depth = 0
        for j in range(i, len(tokens)):
            if tokens[j] == "\\begin":
                depth += 1
            elif tokens[j] == "\\end":
                depth -= 1
                if depth == 0:
                    return _next_piece(tokens, j + 1) if j + 1 < len(tokens) else j + 1
        return len(tokens)
    if t in ("_", "^", "\\frac", "\\dfrac", "\\tfrac", "\\binom"):
        j = i + 1
        for _ in range(2 if t.startswith("\\") else 1):
            j = _next_piece(tokens, j) if j < len(tokens) else j
        return j
    return i + 1
