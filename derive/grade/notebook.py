r"""Derivation reports in Jupyter: HTML and LaTeX views, and a ``%%derive`` cell magic.

Design rule: display code only reads a finished report; it never checks anything itself.
IPython is optional: nothing here imports it at module level, and the magic is registered
only by :func:`load_ipython_extension` (``%load_ext derive.grade.notebook``).

In a notebook, the last expression of a cell displays its report::

    import derive
    derive.grade_text(r"\frac{d}{dx} x^2 = 2x")

or, with the cell magic::

    %load_ext derive.grade.notebook

    %%derive --assume "S >= 1"
    H_out = floor((H + 2*P - K)/S) + 1
    floor((H + 2*P - K + S)/S)

The report shows every step typeset (LaTeX as written, plain text in typewriter type) with
its mark (proved ✔, tested ≈, refuted ✘), the expression as the engine read it, and a
summary naming the first wrong line and column.  Maths is written between ``\(`` and ``\)``,
which Jupyter typesets; everything else is HTML-escaped.  Bad input is a message, never a
traceback.

>>> from derive.grade.report import grade_text
>>> "&#10008;" in report_html(grade_text("(a + b)**2\na**2 + b**2"))
True
"""

from __future__ import annotations

import argparse
import html
import re
import shlex
from typing import Any

from derive.check.verdict import Status, _plain
from derive.grade.report import MARKS, DerivationReport, StepResult, reading

_COLOURS = {Status.PROVED: "#1a7f37", Status.TESTED: "#9a6700", Status.UNKNOWN: "#57606a",
            Status.ERROR: "#cf222e", Status.REFUTED: "#cf222e"}
_GREY = "#57606a"

# The label the cell magic gives its derivation (it appears in messages).
CELL_SOURCE = "this cell"

_RELATIONS_TEX = {"=": "=", "==": "=", "<=": r"\le", ">=": r"\ge", "<": "<", ">": ">",
                  "!=": r"\ne", "~=": r"\approx", "=>": r"\implies"}
_RELATIONS_HTML = {"=": "=", "==": "=", "<=": "&le;", ">=": "&ge;", "<": "&lt;", ">": "&gt;",
                   "!=": "&ne;", "~=": "&asymp;", "=>": "&rArr;"}
_TABLE_HEAD = ("<table style='border-collapse:collapse'><thead><tr>"
               "<th style='text-align:right'>line</th><th></th>"
               "<th style='text-align:left'>step</th><th style='text-align:left'>check</th>"
               "</tr></thead><tbody>")
# A minimum width keeps MathJax 2 (classic notebook, HTML exports), which breaks long
# formulas at the width it measures before typesetting, from breaking short ones.
_STEP_CELL = "text-align:left;min-width:20em"
# an assumption fixing a value (as a "given:" line writes it): listed among the given values
_GIVEN = re.compile(r"\s*[A-Za-z][A-Za-z0-9_']*\s*==\s*[-+]?[0-9./\s]+")


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _math(latex: str) -> str:
    """Inline maths for MathJax/KaTeX: ``\\( ... \\)`` around the HTML-escaped LaTeX."""
    return f"\\({_esc(latex)}\\)"


def _written(report: DerivationReport, text: str, relation: str | None = None) -> str:
    """What was written: typeset when it is LaTeX, in typewriter type when it is text."""
    if report.fmt == "latex":
        prefix = "" if relation is None else f"{{}} {_RELATIONS_TEX.get(relation, '=')} "
        return _math(prefix + text)
    prefix = "" if relation is None else f"{_RELATIONS_HTML.get(relation, '=')} "
    return f"{prefix}<code>{_esc(text)}</code>"


def _read_as(expr: Any) -> str:
    """``read as: <the engine's reading>``, typeset by the project's printer."""
    seen = reading(expr)
    shown = _math(seen["latex"]) if seen["latex"] else f"<code>{_esc(seen['text'])}</code>"
    return f"<span style='color:{_GREY}'>read as: {shown}</span>"


def _label(report: DerivationReport) -> str:
    """The source named in the summary: a file name, not a placeholder such as ``<text>``."""
    source = report.source
    if not source or source == CELL_SOURCE or (source.startswith("<") and source.endswith(">")):
        return ""
    return f"{_esc(source)}: "


def _split_assumptions(assume: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """The assumptions in force, and the given values (``H == 32`` shown as ``H = 32``)."""
    given = [" = ".join(p.strip() for p in a.split("==", 1)) for a in assume
             if _GIVEN.fullmatch(a)]
    others = [a for a in assume if not _GIVEN.fullmatch(a)]
    return others, given


def _sides(s: StepResult) -> tuple[str, str]:
    if s.previous_line == s.line:
        return "left side", "right side"
    return f"line {s.previous_line}", f"line {s.line}"


def _check_cell(s: StepResult) -> str:
    """How the step was checked, in words."""
    v = s.verdict
    if s.status is Status.TESTED:
        how = f"{v.instances} instances agree, no proof"
        return how + (f" <span style='color:{_GREY}'>({_esc(v.method)})</span>"
                      if v.method and v.method != "no proof found" else "")
    if s.status is Status.REFUTED:
        point = _esc(v.counterexample_text() or "any value of the symbols")
        first, second = _sides(s)
        values = (f"{first} = {_esc(_plain(v.lhs_value))}, "
                  f"{second} = {_esc(_plain(v.rhs_value))}")
        if v.undefined_side:
            return f"<b>refuted</b>: no value at {point}: {values}"
        return f"<b>refuted</b> at {point}: {values}"
    if s.status is Status.PROVED:
        return _esc(v.method)
    return f"{s.status.value}: {_esc(v.method)}"


def _summary(report: DerivationReport) -> str:
    verdict = report.verdict
    wrong = report.first_wrong
    head = f"{MARKS[verdict][1]} {_label(report)}{verdict.value}"
    if not report.steps:
        rest = " (no step to check: write at least two expressions)"
    elif wrong is not None and wrong.status is Status.REFUTED:
        rest = f": the first wrong step is line {wrong.line}, column {wrong.column}"
    elif wrong is not None:
        rest = f": line {wrong.line}, column {wrong.column} could not be checked"
    else:
        counts = [(st, sum(1 for s in report.steps if s.status is st)) for st in Status]
        parts = [f"{n} {st.value}" for st, n in counts if n]
        rest = f" ({', '.join(parts)} of {len(report.steps)} steps)"
    return (f"<p style='color:{_COLOURS[verdict]};margin:0 0 .4em 0'><b>{head}</b>"
            f"{_esc(rest)}</p>")


def _wrong_details(report: DerivationReport, s: StepResult) -> list[str]:
    """The first wrong step: the line with a caret, the values there, the hint."""
    source_line = (report.lines[s.line - 1] if 1 <= s.line <= len(report.lines)
                   else s.text).rstrip()
    gutter = f"line {s.line} | "
    caret = " " * (len(gutter) - 2) + "| " + " " * max(s.column - 1, 0) + "^"
    out = [f"<b>First wrong step: line {s.line}, column {s.column}</b>",
           f"<pre style='margin:.2em 0;font-family:monospace'>{_esc(gutter + source_line)}\n"
           f"{_esc(caret)}</pre>"]
    v = s.verdict
    if s.status is Status.REFUTED:
        point = _esc(v.counterexample_text() or "the symbols take any value")
        first, second = _sides(s)
        if v.undefined_side:
            out.append(f"A {'side' if first == 'left side' else 'line'} has no value when "
                       f"{point} ({_esc(v.method.split(': ', 1)[-1])}):")
        elif first == "left side":
            out.append(f"The two sides differ when {point}:")
        else:
            out.append(f"It does not equal line {s.previous_line} when {point}:")
        out.append(f"&nbsp;&nbsp;{first}: {_written(report, s.previous_text)} = "
                   f"{_esc(_plain(v.lhs_value))}")
        out.append(f"&nbsp;&nbsp;{second}: {_written(report, s.text)} = "
                   f"{_esc(_plain(v.rhs_value))}")
        if v.method and not v.undefined_side:
            out.append(f"<span style='color:{_GREY}'>(found by {_esc(v.method)})</span>")
    else:
        out.append(f"{s.status.value}: {_esc(v.method)}")
    if s.hint:
        out.append(f"hint: {_esc(s.hint)}")
    if s.because:
        out.append(f"because: <i>{_esc(s.because)}</i>")
    return out


def report_html(report: DerivationReport) -> str:
    r"""The report as HTML: a summary, then one row per line (line, mark, step, check).

    LaTeX steps are typeset as written and plain-text steps shown in typewriter type; every
    expression also shows how the engine read it (``read as: \(...\)``).  The output
    depends only on the report (no timings), so it is the same on every run.

    >>> from derive.grade.report import grade_text
    >>> page = report_html(grade_text("2*(x + 1)\n2*x + 2"))
    >>> "&#10004;" in page, "<code>2*x + 2</code><br>" in page, page.count("read as: \\(")
    (True, True, 2)
    >>> page = report_html(grade_text(r"\frac{d}{dx} x^2 = x"))
    >>> "\\(\\frac{d}{dx} x^2\\)" in page, "line 1, column 20" in page
    (True, True)
    """
    import sympy

    rows: list[str] = []
    definitions = sorted(report.definitions, key=lambda d: d.line)
    # the expression a definition gives is shown in the definition's row
    defined = {(d.line, sympy.sstr(d.expr)) for d in definitions}

    def row(line: int | str, mark: str, step: str, check: str, colour: str = "") -> None:
        colour = f"color:{colour};" if colour else ""
        rows.append(f"<tr><td style='text-align:right;color:{_GREY}'>{line}</td>"
                    f"<td style='{colour}white-space:nowrap'>{mark}</td>"
                    f"<td style='{_STEP_CELL}'>{step}</td>"
                    f"<td style='text-align:left'>{check}</td></tr>")

    def flush_definitions(upto: float) -> None:
        while definitions and definitions[0].line <= upto:
            d = definitions.pop(0)
            name = reading(sympy.Symbol(d.name))["latex"] or d.name
            value = reading(d.expr)
            shown = (_math(f"{name} = {value['latex']}") if value["latex"] else
                     f"<code>{_esc(d.name)} = {_esc(value['text'])}</code>")
            row(d.line, "def", f"{shown}<br><span style='color:{_GREY}'>"
                f"<code>{_esc(d.name)}</code> is defined</span>",
                "definition (not checked)", _GREY)

    wrong = report.first_wrong
    shown_line = None
    for s in report.steps:
        if s.previous_line != shown_line and (s.previous_line,
                                              sympy.sstr(s.previous_expr)) not in defined:
            flush_definitions(s.previous_line)
            row(s.previous_line, "", f"{_written(report, s.previous_text)}<br>"
                f"{_read_as(s.previous_expr)}", "")
        flush_definitions(s.line)
        shown_line = s.line
        step = f"{_written(report, s.text, s.relation)}<br>{_read_as(s.expr)}"
        if s.because:
            step += f"<br><i>because: {_esc(s.because)}</i>"
        if s.hint and s is not wrong:
            step += f"<br>hint: {_esc(s.hint)}"
        mark = f"<b>{MARKS[s.status][1]}</b> {s.status.value}"
        row(s.line, mark, step, _check_cell(s), _COLOURS[s.status])
    flush_definitions(float("inf"))

    parts = [_summary(report)]
    if rows:
        parts.append(_TABLE_HEAD + "".join(rows) + "</tbody></table>")
    notes: list[str] = []
    if wrong is not None:
        notes.extend(_wrong_details(report, wrong))
    last = wrong or (report.steps[-1] if report.steps else None)
    assume, given = _split_assumptions(last.assume if last else report.assume)
    if assume:
        notes.append("assumptions in force: "
                     + "; ".join(f"<code>{_esc(a)}</code>" for a in assume))
    if given:
        notes.append("given values: " + ", ".join(f"<code>{_esc(g)}</code>" for g in given))
    if notes:
        border = _COLOURS[wrong.status] if wrong is not None else _GREY
        parts.append(f"<div style='margin-top:.5em;padding-left:.6em;"
                     f"border-left:3px solid {border}'>"
                     + "".join(f"<div>{n}</div>" for n in notes) + "</div>")
    return "<div class='derive-derivation'>" + "".join(parts) + "</div>"


def report_latex(report: DerivationReport) -> str:
    r"""The derivation as an aligned chain with a mark per step (MathJax-friendly).

    LaTeX input is shown as written; plain-text lines are shown in typewriter type.

    >>> from derive.grade.report import grade_text
    >>> print(report_latex(grade_text("2*(x + 1)\n2*x + 2")))
    $$\begin{aligned} & \texttt{2*(x + 1)} && \text{line 1}\\= {} & \texttt{2*x + 2} && \checkmark\ \text{line 2: proved}\end{aligned}$$
    """
    def shown(text: str) -> str:
        return text if report.fmt == "latex" else f"\\texttt{{{_text(text)}}}"

    rows = []
    previous_line = None
    for s in report.steps:
        if s.previous_line != previous_line:
            rows.append(f" & {shown(s.previous_text)} && \\text{{line {s.previous_line}}}")
        relation = _RELATIONS_TEX.get(s.relation, "=")
        note = f"line {s.line}: {s.status.value}"
        if s.status is Status.REFUTED and s.verdict.counterexample_text():
            note += f" at {s.verdict.counterexample_text()}"
        rows.append(f"{relation} {{}} & {shown(s.text)} && {MARKS[s.status][2]}\\ "
                    f"\\text{{{_text(note)}}}")
        previous_line = s.line
    if not rows:
        return f"$$\\text{{{_text(report.source)}: nothing to check}}$$"
    return "$$\\begin{aligned}" + "\\\\".join(rows) + "\\end{aligned}$$"


def _text(words: str) -> str:
    """Words made safe inside ``\\text{...}``."""
    table = {"\\": r"\backslash ", "{": r"\{", "}": r"\}", "_": r"\_", "%": r"\%",
             "&": r"\&", "#": r"\#", "$": r"\$", "^": r"\^{}", "~": r"\~{}"}
    return "".join(table.get(ch, ch) for ch in words)


# ---------------------------------------------------------------------------------------
# The cell magic


class _MagicParser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one message of ours, not argparse's usage block
        raise ValueError(message)


def _magic_parser() -> argparse.ArgumentParser:
    p = _MagicParser(prog="%%derive", add_help=False)
    p.add_argument("--latex", dest="fmt", action="store_const", const="latex")
    p.add_argument("--text", dest="fmt", action="store_const", const="text")
    p.add_argument("--assume", action="append", default=[])
    p.add_argument("--budget", type=float, default=None)
    return p


def derive_cell(line: str, cell: str) -> DerivationReport | None:
    """The ``%%derive`` magic: grade the cell; print a clear message on bad input.

    The report is the cell's value, so Jupyter displays it.  Bad input prints one line
    naming the line and column, never a traceback.  Lines are numbered as in the cell, the
    ``%%derive`` line being line 1, so the derivation starts on line 2.

    >>> derive_cell('--assume "x >= 1"', "x*(x + 1)\\nx**2 + x").verdict.value
    'proved'
    >>> derive_cell("", "a +")
    derive: this cell: not a well-formed expression: invalid syntax (at line 2, column 1)
    """
    from derive.errors import DeriveError
    from derive.grade.report import grade_text

    try:
        options = _magic_parser().parse_args(shlex.split(line))
    except ValueError as exc:   # also shlex's unbalanced quotes
        print(f"derive: {exc}; usage: %%derive [--latex | --text] [--assume TEXT] "
              "[--budget SECONDS]")
        return None
    try:
        # the blank first line stands for the %%derive line (IPython passes the rest)
        return grade_text("\n" + cell.rstrip(), fmt=options.fmt, assume=options.assume,
                          budget=options.budget, source=CELL_SOURCE)
    except DeriveError as exc:
        print(f"derive: {exc}")
        return None


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%%derive`` (called by ``%load_ext derive.grade.notebook``)."""
    ipython.register_magic_function(derive_cell, magic_kind="cell", magic_name="derive")


def unload_ipython_extension(ipython: Any) -> None:  # pragma: no cover - IPython only
    """Nothing to undo: IPython drops the magic with the extension."""
