r"""Derivation reports in Jupyter: HTML and LaTeX views, and a ``%%derive`` cell magic.

Design rule: display code only reads a finished report; it never checks anything itself.
IPython is optional: nothing here imports it at module level, and the magic is registered
only by :func:`load_ipython_extension` (``%load_ext derive.grade.notebook``).

In a notebook::

    %load_ext derive.grade.notebook

    %%derive --assume "S >= 1"
    H_out = floor((H + 2*P - K)/S) + 1
    floor((H + 2*P - K + S)/S)

The cell's report is shown with a check mark per step (proved ✔, tested ≈, refuted ✘).

>>> from derive.grade.report import grade_text
>>> "&#10008;" in report_html(grade_text("(a + b)**2\na**2 + b**2"))
True
"""

from __future__ import annotations

import argparse
import html
import shlex
from typing import Any

from derive.check.verdict import Status, _plain
from derive.grade.report import MARKS, DerivationReport

_COLOURS = {Status.PROVED: "#1a7f37", Status.TESTED: "#9a6700", Status.UNKNOWN: "#57606a",
            Status.ERROR: "#cf222e", Status.REFUTED: "#cf222e"}


def report_html(report: DerivationReport) -> str:
    """An HTML table: line, mark, what was written, how it was checked.

    >>> from derive.grade.report import grade_text
    >>> "&#10004;" in report_html(grade_text("2*(x + 1)\\n2*x + 2"))
    True
    """
    esc = html.escape
    verdict = report.verdict
    rows = []
    for d in report.definitions:
        rows.append(f"<tr><td>{d.line}</td><td></td><td><code>{esc(d.name)}</code> is "
                    f"defined</td><td>definition (not checked)</td></tr>")
    previous_line = None
    for s in report.steps:
        if s.previous_line != previous_line:
            rows.append(f"<tr><td>{s.previous_line}</td><td></td>"
                        f"<td><code>{esc(s.previous_text)}</code></td><td></td></tr>")
        previous_line = s.line
        mark = MARKS[s.status][1]
        colour = _COLOURS[s.status]
        how = esc(s.verdict.method or "")
        if s.status is Status.TESTED:
            how = f"{s.verdict.instances} instances agree, no proof"
        if s.status is Status.REFUTED:
            values = (f"line {s.previous_line} = {esc(str(_plain(s.verdict.lhs_value)))}, "
                      f"line {s.line} = {esc(str(_plain(s.verdict.rhs_value)))}")
            how = (f"<b>refuted</b> at {esc(s.verdict.counterexample_text())}: {values}")
        because = f"<br><i>because: {esc(s.because)}</i>" if s.because else ""
        rows.append(f"<tr><td>{s.line}</td><td style='color:{colour}'><b>{mark}</b></td>"
                    f"<td><code>{esc(s.text)}</code>{because}</td><td>{how}</td></tr>")
    wrong = report.first_wrong
    summary = f"{esc(report.source)}: <b>{verdict.value}</b>"
    if wrong is not None:
        summary += f"; first wrong step at line {wrong.line}, column {wrong.column}"
    return ("<div class='derive-derivation'>"
            f"<p style='color:{_COLOURS[verdict]}'>{MARKS[verdict][1]} {summary}</p>"
            "<table><tr><th>line</th><th></th><th>step</th><th>check</th></tr>"
            + "".join(rows) + "</table></div>")


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
        relation = {"=": "=", "==": "=", "<=": r"\le", ">=": r"\ge", "<": "<", ">": ">",
                    "!=": r"\ne"}.get(s.relation, "=")
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


def _magic_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="%%derive", add_help=False)
    p.add_argument("--latex", dest="fmt", action="store_const", const="latex")
    p.add_argument("--text", dest="fmt", action="store_const", const="text")
    p.add_argument("--assume", action="append", default=[])
    p.add_argument("--budget", type=float, default=None)
    return p


def derive_cell(line: str, cell: str) -> DerivationReport | None:
    """The ``%%derive`` magic: grade the cell; print a clear message on bad input.

    >>> derive_cell('--assume "x >= 1"', "x*(x + 1)\\nx**2 + x").verdict.value
    'proved'
    >>> derive_cell("", "a +")
    derive: <cell>: not a well-formed expression: invalid syntax (at line 1, column 1)
    """
    from derive.errors import DeriveError
    from derive.grade.report import grade_text

    try:
        options = _magic_parser().parse_args(shlex.split(line))
    except (SystemExit, ValueError):
        print("derive: usage: %%derive [--latex | --text] [--assume TEXT] [--budget SECONDS]")
        return None
    try:
        return grade_text(cell, fmt=options.fmt, assume=options.assume,
                          budget=options.budget, source="<cell>")
    except DeriveError as exc:
        print(f"derive: {exc}")
        return None


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%%derive`` (called by ``%load_ext derive.grade.notebook``)."""
    ipython.register_magic_function(derive_cell, magic_kind="cell", magic_name="derive")


def unload_ipython_extension(ipython: Any) -> None:  # pragma: no cover - IPython only
    """Nothing to undo: IPython drops the magic with the extension."""
