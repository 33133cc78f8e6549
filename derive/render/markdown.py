"""Solved blocks -> GitHub Markdown (``docs/solutions/<set>/<id>.md``) and SVG figures.

Design rule: the same checked objects as the book, the same step numbers and the same words
for how each step was checked (:mod:`derive.render.steps`); maths goes through the same
printer and is written as ``$...$`` inline and ``$$...$$`` on its own lines, which is how
GitHub renders it.  Prose is escaped so that it shows literally.  Output is deterministic.

GitHub quirks handled here: a ``|`` inside a table cell ends the cell even within maths
(written ``\\vert``), and ``\\{``/``\\}`` are written ``\\lbrace``/``\\rbrace`` because
Markdown escaping may eat the backslash.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from derive.book.model import (
    OUT_OF_SCOPE, Answer, Check, Derivation, Explanation, Figure, Listing, MatrixView,
    Measurement, PartResult, ProblemResult, Table, Text,
)
from derive.check.verdict import Verdict
from derive.render.escape import escape_markdown
from derive.render.prose import engine_note, prose_markdown, prose_markdown_paragraphs
from derive.render.latex import (
    assumption_tex, cell_value_tex, group_checks, name_tex, value_tex,
)
from derive.render.steps import (
    MD_SIGNS, cross_check_cells, cross_check_status, step_numbers, verdict_text,
)

SIGNS = MD_SIGNS

LEGEND = ("✔ proved · ≈ tested numerically, not a proof · ⇄ cross-checked (computed twice, "
          "independently; not a proof) · ○ explanation, not machine-checked · ⌨ code, tested "
          "against PyTorch · ⚗ experiment (measured), not proved · ⊘ out of scope · "
          "✘ refuted · ? unknown · ! error")


def md_math(tex: str, *, in_table: bool = False) -> str:
    r"""Printer output made safe for GitHub's maths.

    >>> md_math(r"\{x\}"), md_math(r"\left|x\right|", in_table=True)
    ('\\lbrace x\\rbrace ', '\\left\\vert x\\right\\vert ')
    """
    tex = tex.replace(r"\{", r"\lbrace ").replace(r"\}", r"\rbrace ")
    if in_table:
        tex = re.sub(r"(?<!\\)\|", r"\\vert ", tex)
        tex = tex.replace(r"\|", r"\Vert ")
    return tex


def inline(tex: str, *, in_table: bool = False) -> str:
    r"""``$tex$``, with the GitHub fixes of :func:`md_math`; maths holding a row break
    ``\\`` (a matrix) uses GitHub's ``$`...`$`` form, whose content Markdown leaves alone.

    >>> inline("x_{1}"), inline(r"\begin{bmatrix}1\\2\end{bmatrix}")
    ('$x_{1}$', '$`\\begin{bmatrix}1\\\\2\\end{bmatrix}`$')
    """
    body = md_math(tex, in_table=in_table).strip()
    return f"$`{body}`$" if "\\\\" in body else f"${body}$"


def display(tex: str) -> str:
    """``$$`` on its own lines around ``tex``."""
    return f"$$\n{md_math(tex).strip()}\n$$"


def sign(status: str) -> str:
    """The Markdown sign of a status (see :data:`SIGNS`).

    >>> sign("proved")
    '✔'
    """
    return SIGNS[status]


def figure_filename(problem_id: str, name: str) -> str:
    """The SVG file of a figure, next to the problem's page.

    >>> figure_filename("8.4", "grid view")
    '8.4-grid-view.svg'
    """
    return f"{file_stem(problem_id)}-{file_stem(name)}.svg"


def file_stem(text: str) -> str:
    """A file-name-safe form of an id or a name.

    >>> file_stem("practice-2"), file_stem("8.4"), file_stem("a b/c")
    ('practice-2', '8.4', 'a-b-c')
    """
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "x"


def render_block(block: Any, numbers: dict[int, int], problem_id: str) -> str:
    """Markdown for one block."""
    if isinstance(block, Text):
        return prose_markdown_paragraphs(block.text)
    if isinstance(block, Explanation):
        lines = ["> **○ Explanation, not machine-checked.** "
                 + prose_markdown_paragraphs(block.text).replace("\n\n", "\n>\n> ")]
        if block.rests_on:
            lines.append(">")
            lines.append("> *Rests on the checked results: "
                         + escape_markdown(", ".join(block.rests_on)) + ".*")
        return "\n".join(lines)
    if isinstance(block, Derivation):
        return render_derivation(block, numbers)
    if isinstance(block, Check):
        return render_check(block, numbers)
    if isinstance(block, Answer) and isinstance(block.value, str):
        unit = " " + prose_markdown(block.unit) if block.unit else ""
        return (f"**Answer:** {inline(name_tex(block.label))} = "
                f"{prose_markdown(block.value)}{unit}")
    if isinstance(block, Answer):
        plain_unit = re.fullmatch(r"[A-Za-z][A-Za-z ]*", block.unit or "")
        unit = r"\ \text{%s}" % block.unit if plain_unit else ""
        out = "**Answer:**\n\n" + display(r"\boxed{%s = %s%s}" % (
            name_tex(block.label), value_tex(block.value), unit))
        if block.unit and not plain_unit:
            out += "\n\n(in " + prose_markdown(block.unit) + ")"
        return out
    if isinstance(block, Table):
        return render_table(block)
    if isinstance(block, MatrixView):
        out = display(f"{name_tex(block.name)} = "
                      f"{value_tex(block.matrix)}")
        if block.caption:
            out += "\n\n*" + prose_markdown(block.caption) + "*"
        return out
    if isinstance(block, Figure):
        alt = prose_markdown(block.caption).replace("[", "(").replace("]", ")")
        return (f"![{alt}]"
                f"({figure_filename(problem_id, block.name)})\n\n"
                f"*{prose_markdown(block.caption)}*")
    if isinstance(block, Listing):
        from derive.render.lab import listing_markdown
        return listing_markdown(block)
    if isinstance(block, Measurement):
        from derive.render.lab import measurement_markdown
        return measurement_markdown(block)
    raise TypeError(f"got block={block!r}; not a block of derive.book.model")


def render_derivation(d: Derivation, numbers: dict[int, int]) -> str:
    """A table: step number, the line, its justification, how it was checked."""
    out = []
    if d.assumptions:
        out.append("Assuming " + ", ".join(inline(assumption_tex(a)) for a in d.assumptions)
                   + ".")
        out.append("")
    out += ["| # | Step | Justification | Check |", "|---:|---|---|---|"]
    for i, step in enumerate(d.steps):
        expr = value_tex(step.expr)
        if i == 0:
            blank = d.lhs is None or (isinstance(d.lhs, str) and not d.lhs)
            lhs = "" if blank else name_tex(d.lhs)
            line = f"{lhs} = {expr}" if lhs else expr
            n, check = "", "given"
        else:
            rel = r"\neq" if step.verdict is not None and step.verdict.refuted else "="
            line = f"{rel} {expr}"
            n = str(numbers.get(id(step), ""))
            check = _check_cell(step.verdict) if step.verdict is not None else ""
        out.append(f"| {n} | {inline(line, in_table=True)} | "
                   f"{_cell_text(step.why)} | {check} |")
    return "\n".join(out)


def render_check(c: Check, numbers: dict[int, int]) -> str:
    """A one-row table for a claim or numeric cross-check."""
    return render_checks([c], numbers)


def render_checks(checks: list[Check], numbers: dict[int, int]) -> str:
    """Consecutive checks: claims as one table of statements, each run of cross-checks as
    one comparison table."""
    out = []
    for cross, run in itertools.groupby(checks, key=lambda c: c.is_cross_check):
        run = list(run)
        out.append(render_cross_checks(run) if cross else render_claims(run, numbers))
    return "\n\n".join(out)


def render_claims(checks: list[Check], numbers: dict[int, int]) -> str:
    """Consecutive claims as one table, one row each."""
    rows = ["| # | Statement | Justification | Check |", "|---:|---|---|---|"]
    for c in checks:
        n = numbers.get(id(c), "")
        rel = r"\neq" if c.verdict.refuted else "="
        line = f"{value_tex(c.lhs)} {rel} {value_tex(c.rhs)}"
        rows.append(f"| {n} | {inline(line, in_table=True)} | {_cell_text(c.why or 'claim')} | "
                    f"{_check_cell(c.verdict)} |")
    return "\n".join(rows)


def render_cross_checks(checks: list[Check]) -> str:
    """A comparison table (see :func:`derive.render.latex.render_cross_checks`)."""
    rows = ["**Cross-checks:** each value computed twice, independently.", "",
            "| Quantity | Engine | Reference | Reference computed by | Agreement |",
            "|---|---|---|---|---|"]
    for c in checks:
        cells = cross_check_cells(c)
        ref = ("—" if cells["reference"] is None
               else inline(cell_value_tex(cells["reference"]), in_table=True))
        rows.append(f"| {_cell_text(cells['quantity'])} | "
                    f"{inline(cell_value_tex(cells['engine']), in_table=True)} | {ref} | "
                    f"{_cell_text(cells['how'])} | {sign(cross_check_status(c))} "
                    f"{_cell_text(cells['agreement'])} |")
    return "\n".join(rows)


def _check_cell(v: Verdict) -> str:
    """How a line was checked: its sign and the engine's note, typeset."""
    return _cell_text_raw(f"{sign(v.status.value)} "
                          f"{prose_markdown(engine_note(verdict_text(v, lemmas=False)), in_table=True)}")


def render_table(t: Table) -> str:
    """A Markdown table; numbers and SymPy values as inline maths."""
    head = "| " + " | ".join(_cell_text(h) for h in t.headers) + " |"
    rule = "|" + "|".join("---" for _ in t.headers) + "|"
    rows = ["| " + " | ".join(_cell(v) for v in r) + " |" for r in t.rows]
    out = "\n".join([head, rule, *rows])
    if t.caption:
        out += "\n\n*" + prose_markdown(t.caption) + "*"
    return out


def _cell(v: Any) -> str:
    if isinstance(v, str):
        return _cell_text(v)
    return inline(value_tex(v), in_table=True)


def _cell_text(text: str) -> str:
    return _cell_text_raw(prose_markdown(" ".join(text.split()), in_table=True))


def _cell_text_raw(text: str) -> str:
    return text.replace("\n", " ")


def part_context(pr: PartResult, problem_id: str) -> dict[str, Any]:
    """The template context of one solved part."""
    numbers = step_numbers(pr)
    return {
        "label": pr.part.label,
        "prompt": pr.part.prompt,
        "status": pr.status,
        "sign": sign(pr.status),
        "scope": pr.part.scope,
        "reason": pr.part.reason if pr.part.scope == OUT_OF_SCOPE else "",
        "error": pr.error,
        "blocks": [render_checks(b, numbers) if isinstance(b, list) else
                   render_block(b, numbers, problem_id) for b in group_checks(pr.blocks)],
    }


def figures(result: ProblemResult) -> dict[str, str]:
    """SVG file name -> SVG text, for every figure of the solved problem."""
    out: dict[str, str] = {}
    for pr in result.parts:
        for b in pr.blocks:
            if isinstance(b, Figure):
                out[figure_filename(result.problem.id, b.name)] = b.svg.rstrip("\n") + "\n"
    return dict(sorted(out.items()))


def render_problem(result: ProblemResult, template_dir: str | None = None) -> str:
    """The Markdown page of one solved problem."""
    from derive.render.env import render
    p = result.problem
    problem = {"id": p.id, "title": p.title, "source": p.source, "statement": p.statement}
    text = render("problem.md.j2", template_dir, problem=problem, legend=LEGEND,
                  parts=[part_context(pr, p.id) for pr in result.parts])
    return _tidy(text)


def render_index(sets: list[dict[str, Any]], template_dir: str | None = None) -> str:
    """The index page: every problem, its parts' signs and its verdict summary.

    ``sets`` is ``[{"key", "title", "problems": [{"id", "title", "file", "parts":
    [{"label", "status"}]}]}]`` in book order."""
    from derive.render.env import render
    for s in sets:
        for p in s["problems"]:
            p["signs"] = ", ".join(
                (f"({q['label']}) " if q["label"] else "") + sign(q["status"])
                for q in p["parts"])
    return _tidy(render("index.md.j2", template_dir, sets=sets, legend=LEGEND))


_FENCED = re.compile(r"(^```[a-z]*\n.*?^```$)", re.S | re.M)


def _tidy(text: str) -> str:
    r"""At most one blank line in a row, one final newline; fenced code is kept verbatim
    (a listing's two blank lines between definitions are its own).

    >>> _tidy("a\n\n\n\nb\n```python\nx = 1\n\n\ny = 2\n```\n")
    'a\n\nb\n```python\nx = 1\n\n\ny = 2\n```\n'
    """
    pieces = _FENCED.split(text)
    # split() with one group: code blocks are the odd pieces
    tidied = [p if i % 2 else re.sub(r"\n{3,}", "\n\n", p) for i, p in enumerate(pieces)]
    return "".join(tidied).strip("\n") + "\n"
