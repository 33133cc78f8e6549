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

import re
from typing import Any

from derive.book.model import (
    OUT_OF_SCOPE, Answer, Check, Derivation, Explanation, Figure, MatrixView, PartResult,
    ProblemResult, Table, Text,
)
from derive.render.escape import escape_markdown, escape_markdown_paragraphs
from derive.render.latex import assumption_tex, group_checks, name_tex, value_tex
from derive.render.steps import MD_SIGNS, step_numbers, verdict_text

SIGNS = MD_SIGNS

LEGEND = ("✔ proved · ≈ tested numerically, not a proof · ○ explanation, not "
          "machine-checked · ⊘ out of scope · ✘ refuted · ? unknown · ! error")


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
        return escape_markdown_paragraphs(block.text)
    if isinstance(block, Explanation):
        lines = ["> **○ Explanation, not machine-checked.** "
                 + escape_markdown_paragraphs(block.text).replace("\n\n", "\n>\n> ")]
        if block.rests_on:
            lines.append(">")
            lines.append("> *Rests on the checked results: "
                         + escape_markdown(", ".join(block.rests_on)) + ".*")
        return "\n".join(lines)
    if isinstance(block, Derivation):
        return render_derivation(block, numbers)
    if isinstance(block, Check):
        return render_check(block, numbers)
    if isinstance(block, Answer):
        plain_unit = re.fullmatch(r"[A-Za-z][A-Za-z ]*", block.unit or "")
        unit = r"\ \text{%s}" % block.unit if plain_unit else ""
        out = "**Answer:**\n\n" + display(r"\boxed{%s = %s%s}" % (
            name_tex(block.label), value_tex(block.value), unit))
        if block.unit and not plain_unit:
            out += "\n\n(in " + escape_markdown(block.unit) + ")"
        return out
    if isinstance(block, Table):
        return render_table(block)
    if isinstance(block, MatrixView):
        out = display(f"{name_tex(block.name)} = "
                      f"{value_tex(block.matrix)}")
        if block.caption:
            out += "\n\n*" + escape_markdown(block.caption) + "*"
        return out
    if isinstance(block, Figure):
        return (f"![{escape_markdown(block.caption)}]"
                f"({figure_filename(problem_id, block.name)})\n\n"
                f"*{escape_markdown(block.caption)}*")
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
            check = (f"{sign(step.verdict.status.value)} "
                     f"{escape_markdown(verdict_text(step.verdict, lemmas=False))}"
                     if step.verdict is not None else "")
        out.append(f"| {n} | {inline(line, in_table=True)} | "
                   f"{_cell_text(step.why)} | {_cell_text_raw(check)} |")
    return "\n".join(out)


def render_check(c: Check, numbers: dict[int, int]) -> str:
    """A one-row table for a claim or numeric cross-check."""
    return render_checks([c], numbers)


def render_checks(checks: list[Check], numbers: dict[int, int]) -> str:
    """Consecutive claims or numeric cross-checks as one table, one row each."""
    rows = ["| # | Statement | Justification | Check |", "|---:|---|---|---|"]
    for c in checks:
        n = numbers.get(id(c), "")
        rel = r"\neq" if c.verdict.refuted else "="
        why = c.why or ("cross-check" if c.kind == "numeric" else "claim")
        line = f"{value_tex(c.lhs)} {rel} {value_tex(c.rhs)}"
        check = (f"{sign(c.status.value)} "
                 f"{escape_markdown(verdict_text(c.verdict, lemmas=False))}")
        rows.append(f"| {n} | {inline(line, in_table=True)} | {_cell_text(why)} | "
                    f"{_cell_text_raw(check)} |")
    return "\n".join(rows)


def render_table(t: Table) -> str:
    """A Markdown table; numbers and SymPy values as inline maths."""
    head = "| " + " | ".join(_cell_text(h) for h in t.headers) + " |"
    rule = "|" + "|".join("---" for _ in t.headers) + "|"
    rows = ["| " + " | ".join(_cell(v) for v in r) + " |" for r in t.rows]
    out = "\n".join([head, rule, *rows])
    if t.caption:
        out += "\n\n*" + escape_markdown(t.caption) + "*"
    return out


def _cell(v: Any) -> str:
    if isinstance(v, str):
        return _cell_text(v)
    return inline(value_tex(v), in_table=True)


def _cell_text(text: str) -> str:
    return _cell_text_raw(escape_markdown(" ".join(text.split())))


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


def _tidy(text: str) -> str:
    """At most one blank line in a row, one final newline."""
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"
