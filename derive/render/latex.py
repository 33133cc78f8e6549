"""Solved blocks -> LaTeX.

Design rule: this module turns checked objects into LaTeX fragments and nothing else; the
mathematics goes through :func:`derive.render.printer.to_latex`, prose through
:func:`derive.render.escape.escape_latex`, and the page layout lives in the templates.  Every
checked line carries its mark (see :data:`MARKS`) and its justification; explanations and
out-of-scope parts are visibly marked as not machine-checked; nothing unchecked is dressed
up as checked.

>>> from derive.book.model import Answer
>>> render_block(Answer("output size", 32, "pixels"), {})
'\\\\Answer{\\\\text{output size} = 32\\\\ \\\\text{pixels}}'
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from derive.book.model import (
    OUT_OF_SCOPE, Answer, Check, Derivation, Explanation, Figure, Listing, MatrixView,
    Measurement, PartResult, ProblemResult, Table, Text,
)
from derive.check.verdict import Status, Verdict
from derive.render.escape import escape_latex
from derive.render.prose import engine_note, prose_latex, prose_latex_paragraphs
from derive.render.printer import DerivePrinter, to_latex
from derive.render.steps import (
    TEX_MARKS, cross_check_cells, cross_check_status, shown_value, step_numbers, verdict_text,
)
from derive.render.width import tex_width

MARKS = TEX_MARKS

# Arrays and matrices larger than this are summarised by their shape; taller than
# MAX_ROWS too (a tall matrix runs off the page).
MAX_INLINE_ENTRIES = 144
MAX_ROWS = 12
# Tuples, lists and vectors longer than this show their first and last entries and their
# length.
MAX_SEQUENCE = 12

# The width of the text block, in characters of maths (see derive.render.width), and what a
# checked line spends besides its maths: the step tag, and a justification column of 0.30
# of the line when the justification is long.
LINE_CHARS = 78
TAG_CHARS = 6
WHY_COLUMN_CHARS = 24

_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def mark(status: str | Status) -> str:
    r"""The mark macro of a status.

    >>> mark("proved")
    '\\MarkProved'
    """
    return MARKS[status.value if isinstance(status, Status) else status]


def render_block(block: Any, numbers: dict[int, int]) -> str:
    """LaTeX for one block; ``numbers`` maps ``id(step or check)`` to its step number."""
    if isinstance(block, Text):
        return prose_latex_paragraphs(block.text)
    if isinstance(block, Explanation):
        return render_explanation(block)
    if isinstance(block, Derivation):
        return render_derivation(block, numbers)
    if isinstance(block, Check):
        return render_check(block, numbers)
    if isinstance(block, Answer):
        return render_answer(block)
    if isinstance(block, Table):
        return render_table(block)
    if isinstance(block, MatrixView):
        return render_matrix(block)
    if isinstance(block, Figure):
        return render_figure(block)
    if isinstance(block, Listing):
        from derive.render.lab import listing_latex
        return listing_latex(block)
    if isinstance(block, Measurement):
        from derive.render.lab import measurement_latex
        return measurement_latex(block)
    raise TypeError(f"got block={block!r}; not a block of derive.book.model")


def render_answer(a: Answer) -> str:
    r"""The boxed answer of a part; a long answer in words wraps inside its box, a long
    formula shrinks to the line.

    >>> render_answer(Answer("H_out", 32))
    '\\Answer{H_{\\mathrm{out}} = 32}'
    """
    unit = r"\ \text{%s}" % prose_latex(a.unit) if a.unit else ""
    value = (r"\text{%s}" % prose_latex(a.value) if isinstance(a.value, str)
             else value_tex(a.value))
    inner = f"{name_tex(a.label)} = {value}{unit}"
    if tex_width(inner) <= LINE_CHARS - 8:
        return r"\Answer{%s}" % inner
    if isinstance(a.value, str):
        text = prose_latex(a.value) + (" " + prose_latex(a.unit) if a.unit else "")
        return r"\AnswerText{$%s$ = %s}" % (name_tex(a.label), text)
    return r"\Answer{%s}" % fit(inner, 0.85)


def fit(tex: str, share: float) -> str:
    r"""Maths that LaTeX shrinks to ``share`` of the line if (and only if) it is wider.

    >>> fit("x + y", 0.5)
    '\\FitMath{0.5\\linewidth}{x + y}'
    """
    return r"\FitMath{%g\linewidth}{%s}" % (share, tex)


def _why_chars(why: str) -> float:
    """The room a justification takes on a checked line."""
    if not why:
        return 0.0
    return 0.8 * len(why) + 2 if len(why) <= SHORT_WHY else WHY_COLUMN_CHARS


def _row_widths(lhs: str, rhs: str, why: str) -> tuple[float, float, float]:
    """The widths of a checked line's columns: left side, right side, justification."""
    return tex_width(lhs), tex_width(rhs), _why_chars(why)


def _rows_fit(widths: list[tuple[float, float, float]]) -> bool:
    """Whether rows of these column widths fit an ``align*``, whose columns are as wide as
    their widest entry: left sides, ``=``, right sides, justifications, tags."""
    return (max(w[0] for w in widths) + 2 + max(w[1] for w in widths)
            + max(w[2] for w in widths) + TAG_CHARS <= LINE_CHARS)


def name_tex(name: Any) -> str:
    r"""A label or left-hand side: symbol-like names as symbols, words as upright text.

    >>> name_tex("H_out"), name_tex("alpha"), name_tex("params"), name_tex("output size")
    ('H_{\\mathrm{out}}', '\\alpha', '\\text{params}', '\\text{output size}')
    """
    if isinstance(name, str):
        if _symbol_like(name):
            return DerivePrinter()._name(name)
        return r"\text{%s}" % prose_latex(name)
    return value_tex(name)


def _symbol_like(name: str) -> bool:
    """One letter or a Greek letter, optionally with a subscript (``H_out``, ``S_1``), or a
    name of the notation table."""
    from derive.render.printer import NOTATION, _is_greek
    if name in NOTATION["symbols"]:
        return True
    head = name.split("_", 1)[0]
    return bool(_IDENT.match(name)) and (len(head) == 1 or _is_greek(head))


def value_tex(value: Any) -> str:
    r"""Maths for an engine value; long sequences show their ends and their length, large
    arrays their shape.

    >>> value_tex(tuple(range(30)))
    '\\left(0, 1, 2, 3, 4, 5, \\ldots, 28, 29\\right)\\ \\text{(30 values)}'
    """
    value = shown_value(value)   # floats as every machine computes them
    shape = _shape(value)
    if shape is not None and (len(shape) == 1 or (len(shape) == 2 and 1 in shape
                                                  and _size(shape) > MAX_SEQUENCE)):
        # a vector (a long row or column reads as a sequence)
        flat = list(value) if len(shape) == 1 else [value[i, j] for i in range(shape[0])
                                                    for j in range(shape[1])]
        value, shape = [v.item() if hasattr(v, "item") else v for v in flat], None
    if shape is not None and (_size(shape) > MAX_INLINE_ENTRIES or shape[0] > MAX_ROWS):
        dims = r" \times ".join(str(d) for d in shape)
        return r"\text{(array of shape } %s\text{)}" % dims
    if isinstance(value, (tuple, list)) and len(value) > MAX_SEQUENCE:
        head = ", ".join(to_latex(v) for v in value[:6])
        tail = ", ".join(to_latex(v) for v in value[-2:])
        return r"\left(%s, \ldots, %s\right)\ \text{(%d values)}" % (head, tail, len(value))
    return to_latex(value)


def _shape(value: Any) -> tuple[int, ...] | None:
    """The shape of an array or a matrix; ``None`` for anything else (an ``Indexed`` has a
    ``shape`` property that raises)."""
    import sympy
    if not (type(value).__module__ == "numpy" or isinstance(value, sympy.MatrixBase)):
        return None
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple) and all(isinstance(d, int) for d in shape):
        return shape
    return None


def _size(shape: tuple[int, ...]) -> int:
    out = 1
    for d in shape:
        out *= d
    return out


# Kind assumptions ("x real", "k odd") as maths.
_KIND_TEX = {"real": r"\in \mathbb{R}", "integer": r"\in \mathbb{Z}",
             "rational": r"\in \mathbb{Q}", "positive": "> 0", "nonnegative": r"\geq 0",
             "negative": "< 0", "odd": r"\text{ odd}", "even": r"\text{ even}"}


def assumption_tex(text: str) -> str:
    r"""An assumption such as ``"P >= 0"`` as maths (a token-by-token transliteration).

    >>> assumption_tex("P >= 0")
    'P \\geq 0'
    >>> assumption_tex("2*P + 1 != K")
    '2 \\, P + 1 \\neq K'
    >>> assumption_tex("x real")
    'x \\in \\mathbb{R}'
    """
    words = text.replace(",", " ").split()
    if len(words) >= 2 and words[-1] in _KIND_TEX and all(_IDENT.match(w) for w in words[:-1]):
        names = ", ".join(DerivePrinter()._name(w) for w in words[:-1])
        return f"{names} {_KIND_TEX[words[-1]]}"
    ops = {">=": r"\geq", "<=": r"\leq", "!=": r"\neq", "==": "=", "*": r"\,", ">": ">",
           "<": "<", "+": "+", "-": "-", "/": "/", "(": "(", ")": ")", ",": ","}
    printer = DerivePrinter()
    out: list[str] = []
    for tok in re.findall(r"[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?|>=|<=|!=|==|\S", text):
        if tok in ops:
            out.append(ops[tok])
        elif tok[0].isdigit():
            out.append(tok)
        elif _IDENT.match(tok):
            out.append(printer._name(tok))
        else:
            out.append(escape_latex(tok))
    return " ".join(out)


# Justifications up to this many characters stay on one line; longer ones wrap in a column.
SHORT_WHY = 32


def _why(text: str) -> str:
    if not text:
        return ""
    macro = r"\WhyShort" if len(text) <= SHORT_WHY else r"\Why"
    return r"%s{%s}" % (macro, prose_latex(text))


def _relation(verdict: Verdict | None) -> str:
    return r"\neq" if verdict is not None and verdict.refuted else "="


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value)


def render_derivation(d: Derivation, numbers: dict[int, int]) -> str:
    """An ``align*`` chain: one line per step, its justification, step number and mark.

    A chain with a step too wide for the justification column beside it puts each
    justification under its step instead, and shrinks a step that is wider than the line.
    """
    lines: list[str] = []
    notes: list[str] = []
    refutations: list[str] = []
    lhs0 = name_tex(d.lhs) if not _blank(d.lhs) else ""
    exprs = [value_tex(step.expr) for step in d.steps]
    narrow = _rows_fit([_row_widths(lhs0, e, step.why) for e, step in zip(exprs, d.steps)])
    for i, (step, expr) in enumerate(zip(d.steps, exprs)):
        lhs = lhs0 if i == 0 else ""
        rel = _relation(step.verdict)
        if i == 0 and not lhs:
            rel = r"\phantom{{}={}}"
        if narrow:
            line = f"{lhs} &{rel} {expr} && {_why(step.why)}"
        else:
            if lhs and tex_width(lhs) > LINE_CHARS / 5:
                lhs = fit(lhs, 0.2)
            line = f"{lhs} &{rel} {fit(expr, 0.72)}"
        if step.verdict is not None:
            n = numbers.get(id(step), 0)
            line += r" \StepTag{%d}{%s}" % (n, mark(step.verdict.status))
            notes.append(f"({n}) {engine_note(verdict_text(step.verdict, lemmas=False))}")
            if step.verdict.refuted:
                refutations.append(f"step {n}: {engine_note(verdict_text(step.verdict))}")
        else:
            line += r" \notag"
        if not narrow and step.why:
            line += r" \\[-0.3ex]" "\n" r"&\qquad \WhyBelow{%s} \notag" % prose_latex(step.why)
        lines.append(line)
    out = []
    if d.assumptions:
        out.append(r"\Assuming{%s}" % ", ".join(f"${assumption_tex(a)}$"
                                                for a in d.assumptions))
    out.append("\\DisplayStart\n\\begin{align*}\n" + " \\\\\n".join(lines) + "\n\\end{align*}")
    if notes:
        out.append(r"\HowChecked{%s}" % prose_latex("; ".join(notes)))
    out.extend(r"\Refutation{%s}" % prose_latex(r) for r in refutations)
    return "\n".join(out)


def render_check(c: Check, numbers: dict[int, int]) -> str:
    """One checked statement (a claim, or a numeric cross-check) with its mark."""
    return render_checks([c], numbers)


def render_checks(checks: list[Check], numbers: dict[int, int]) -> str:
    """Consecutive checks: claims as displays, each run of cross-checks as one table."""
    out: list[str] = []
    for cross, run in itertools.groupby(checks, key=lambda c: c.is_cross_check):
        run = list(run)
        out.append(render_cross_checks(run) if cross else render_claims(run, numbers))
    return "\n\n".join(out)


def render_cross_checks(checks: list[Check]) -> str:
    """A comparison table: for each quantity, the engine's value, the reference value and
    how it was computed, and whether they agree.  Never an equation: two computations of
    one value are compared, nothing is derived."""
    rows = []
    for c in checks:
        cells = cross_check_cells(c)
        ref = ("---" if cells["reference"] is None
               else fit(cell_value_tex(cells["reference"]), 0.18))
        rows.append(" & ".join([
            prose_latex(cells["quantity"]), fit(cell_value_tex(cells["engine"]), 0.18), ref,
            prose_latex(cells["how"]),
            r"%s\enspace %s" % (mark(cross_check_status(c)), prose_latex(cells["agreement"])),
        ]) + r" \\")
    return "\n".join([
        r"\begin{CrossChecks}", *rows, r"\end{CrossChecks}"])


# A value in a cross-check table wider than this (characters of maths) is summarised:
# shrunk to its column it would be unreadable; all its entries were compared.
CELL_CHARS = 18


def cell_value_tex(value: Any) -> str:
    r"""A value for a narrow table cell: itself, or its shape or length when too wide.

    >>> cell_value_tex(32), cell_value_tex(tuple(range(0, 300, 7)))
    ('32', '\\text{43 values}')
    """
    tex = value_tex(value)
    if tex_width(tex) <= CELL_CHARS:
        return tex
    shape = _shape(value)
    if shape is not None and len(shape) == 1:
        return r"\text{%d values}" % shape[0]
    if shape is not None:
        return r"%s\ \text{array}" % r" \times ".join(str(d) for d in shape)
    if isinstance(value, (tuple, list)):
        return r"\text{%d values}" % len(value)
    return tex


def render_claims(checks: list[Check], numbers: dict[int, int]) -> str:
    """Consecutive claims as one display, one line (number, mark) each; a claim too wide
    to share a line with its justification gets a display of its own."""
    out: list[str] = []
    run: list[tuple[Check, tuple[str, str, str]]] = []
    widths: list[tuple[float, float, float]] = []
    for c in checks:
        row = (value_tex(c.lhs), value_tex(c.rhs), c.why or _kind(c))
        width = _row_widths(*row)
        if _rows_fit(widths + [width]):
            run.append((c, row))
            widths.append(width)
            continue
        if run:
            out.append(_check_rows(run, numbers))
        run, widths = [], []
        if _rows_fit([width]):
            run, widths = [(c, row)], [width]
        else:
            out.append(_wide_check(c, row, numbers))
    if run:
        out.append(_check_rows(run, numbers))
    return "\n\n".join(out)


def _kind(c: Check) -> str:
    return "claim"


def _check_rows(run: list[tuple[Check, tuple[str, str, str]]], numbers: dict[int, int]) -> str:
    lines, notes, refutations = [], [], []
    for c, (lhs, rhs, why) in run:
        n = numbers.get(id(c), 0)
        lines.append(f"{lhs} &{_relation(c.verdict)} {rhs} && {_why(why)}"
                     r" \StepTag{%d}{%s}" % (n, mark(c.status)))
        notes.append(f"({n}) {engine_note(verdict_text(c.verdict, lemmas=False))}")
        if c.verdict.refuted:
            refutations.append(f"step {n}: {engine_note(verdict_text(c.verdict))}")
    return _with_notes("\\DisplayStart\n\\begin{align*}\n" + " \\\\\n".join(lines)
                       + "\n\\end{align*}", notes, refutations)


def _wide_check(c: Check, row: tuple[str, str, str], numbers: dict[int, int]) -> str:
    """One wide statement: ``lhs = rhs`` on a line, or ``lhs`` above ``= rhs``; the
    justification goes into the note under it."""
    n = numbers.get(id(c), 0)
    lhs, rhs, _ = row
    rel = _relation(c.verdict)
    tag = r" \StepTag{%d}{%s}" % (n, mark(c.status))
    why = f"{c.why}; " if c.why else ""
    shape = _shape(c.lhs)
    if (max(tex_width(lhs), tex_width(rhs)) > 2 * LINE_CHARS and shape is not None
            and len(shape) == 2 and _shape(c.rhs) == shape):
        # Shrunk to the line this would be unreadable: show one entry; all were checked.
        lhs, rhs = value_tex(c.lhs[0, 0]), value_tex(c.rhs[0, 0])
        lhs, rhs = r"\left[%s\right]_{1,1}" % lhs, r"\left[%s\right]_{1,1}" % rhs
        why += (f"entry (1, 1) of the {shape[0]} x {shape[1]} matrices shown, "
                f"all {_size(shape)} entries checked; ")
    if tex_width(lhs) + 2 + tex_width(rhs) + TAG_CHARS <= LINE_CHARS:
        rows = f"{lhs} {rel} {rhs}{tag}"
    else:
        rows = f"{fit(lhs, 0.85)} \\notag \\\\\n{{}}{rel} {fit(rhs, 0.8)}{tag}"
    note = f"({n}) {why}{engine_note(verdict_text(c.verdict, lemmas=False))}"
    refutations = ([f"step {n}: {engine_note(verdict_text(c.verdict))}"]
                   if c.verdict.refuted else [])
    return _with_notes("\\DisplayStart\n\\begin{gather*}\n" + rows + "\n\\end{gather*}",
                       [note], refutations)


def _with_notes(display: str, notes: list[str], refutations: list[str]) -> str:
    out = [display, r"\HowChecked{%s}" % prose_latex("; ".join(notes))]
    out.extend(r"\Refutation{%s}" % prose_latex(r) for r in refutations)
    return "\n".join(out)


def group_checks(blocks: Any) -> list[Any]:
    """``blocks`` with every run of consecutive :class:`Check` blocks gathered in a list."""
    out: list[Any] = []
    for b in blocks:
        if isinstance(b, Check) and out and isinstance(out[-1], list):
            out[-1].append(b)
        else:
            out.append([b] if isinstance(b, Check) else b)
    return out


def render_explanation(e: Explanation) -> str:
    r"""A grey box titled "Explanation, not machine-checked", naming what it rests on.

    >>> print(render_explanation(Explanation("Padding keeps the size.", ("8.2(a)",))))
    \begin{explanation}
    Padding keeps the size.
    <BLANKLINE>
    {\small\itshape Rests on the checked results: 8.2(a).}
    \end{explanation}
    """
    body = [r"\begin{explanation}", prose_latex_paragraphs(e.text)]
    if e.rests_on:
        body.append("")
        body.append(r"{\small\itshape Rests on the checked results: %s.}"
                    % escape_latex(", ".join(e.rests_on)))
    body.append(r"\end{explanation}")
    return "\n".join(body)


def render_table(t: Table) -> str:
    """A booktabs table; numeric columns are right-aligned, cells typeset as maths.  A table
    wider than the line spans it, its widest columns wrapping their text and formulas."""
    ncols = len(t.headers)
    for r in t.rows:
        if len(r) != ncols:
            from derive.errors import ProblemError
            raise ProblemError(f"got a table row with {len(r)} cells {r!r}; the table has "
                               f"{ncols} headers {t.headers!r}")
    align = ["r" if t.rows and all(_is_number(r[j]) for r in t.rows) else "l"
             for j in range(ncols)]
    cells = [[_cell(c) for c in r] for r in t.rows]
    widths = [max([_cell_chars(h, h)] + [_cell_chars(r[j], row[j])
                                         for r, row in zip(t.rows, cells)])
              for j, h in enumerate(t.headers)]
    wrap = sum(widths) + 2 * ncols > LINE_CHARS
    if wrap:
        share = LINE_CHARS / ncols
        align = [r">{\raggedright\arraybackslash}X" if w > share else a
                 for a, w in zip(align, widths)]
        wrap = any("X" in a for a in align)
    spec = "@{}%s@{}" % "".join(align)
    head = r"\begin{tabularx}{\linewidth}{%s}" % spec if wrap else r"\begin{tabular}{%s}" % spec
    lines = [r"\begin{center}", head, r"\toprule",
             " & ".join(r"\textbf{%s}" % prose_latex(h) for h in t.headers) + r" \\",
             r"\midrule"]
    lines += [" & ".join(row) + r" \\" for row in cells]
    lines.append(r"\bottomrule")
    lines.append(r"\end{tabularx}" if wrap else r"\end{tabular}")
    if t.caption:
        lines.append(r"\captionof{table}{%s}" % prose_latex(t.caption))
    lines.append(r"\end{center}")
    return "\n".join(lines)


def _cell_chars(v: Any, typeset: str) -> float:
    """The width of a table cell (its value and its LaTeX); prose runs a little narrower
    than maths."""
    return 0.9 * len(v) if isinstance(v, str) else tex_width(typeset.strip("$"))


def _is_number(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, (int, float)):
        return True
    return bool(getattr(v, "is_number", False))


def _cell(v: Any) -> str:
    if isinstance(v, str):
        return prose_latex(v)
    return f"${value_tex(v)}$"


def render_matrix(m: MatrixView) -> str:
    """``name = [matrix]`` as a display; a matrix wider than the line shrinks to fit it."""
    body = f"{name_tex(m.name)} = {value_tex(m.matrix)}"
    if tex_width(body) > LINE_CHARS:
        out = r"\begin{center}%s\end{center}" % fit(body, 1)
    else:
        out = r"\[ %s \]" % body
    if m.caption:
        out += "\n" + r"\begin{center}\small %s\end{center}" % prose_latex(m.caption)
    return out


def render_figure(f: Figure) -> str:
    """The figure's TikZ picture, centred (and shrunk if wider than the line), with its
    caption."""
    tikz = f.tikz.strip()
    if not tikz.startswith(r"\begin{tikzpicture}"):
        tikz = "\\begin{tikzpicture}\n" + tikz + "\n\\end{tikzpicture}"
    return "\n".join([r"\begin{center}", r"\begin{adjustbox}{max width=\linewidth}", tikz,
                      r"\end{adjustbox}",
                      r"\captionof{figure}{%s}" % prose_latex(f.caption), r"\end{center}"])


def problem_label(problem_id: str) -> str:
    """A hyperref label for a problem id.

    >>> problem_label("8.4"), problem_label("practice-2")
    ('prob:8.4', 'prob:practice-2')
    """
    return "prob:" + re.sub(r"[^A-Za-z0-9.\-]", "-", problem_id)


def part_context(pr: PartResult) -> dict[str, Any]:
    """The template context of one solved part."""
    numbers = step_numbers(pr)
    return {
        "label": pr.part.label,
        "prompt": pr.part.prompt,
        "status": pr.status,
        "mark": mark(pr.status),
        "scope": pr.part.scope,
        "reason": pr.part.reason if pr.part.scope == OUT_OF_SCOPE else "",
        "error": pr.error,
        "blocks": [render_checks(b, numbers) if isinstance(b, list) else
                   render_block(b, numbers) for b in group_checks(pr.blocks)],
    }


def render_problem_body(result: ProblemResult, template_dir: str | None = None) -> str:
    """The LaTeX of one solved problem (heading, statement, parts), as used in the book and
    in the problem's standalone document."""
    from derive.render.env import render
    p = result.problem
    problem = {"id": p.id, "title": p.title, "source": p.source, "statement": p.statement,
               "label": problem_label(p.id)}
    return render("problem_body.tex.j2", template_dir, problem=problem,
                  parts=[part_context(pr) for pr in result.parts])
