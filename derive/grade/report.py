r"""Grading a hand derivation: every step checked, the first wrong line pointed at.

Design rule: the report only says what the checker found.  Each step (an expression and the
one before it) goes through :func:`derive.check.engine.check_exprs` with the assumptions
in force at that line and the checker's time budget; a step the checker cannot handle is an
``error`` or ``unknown`` step, never a crash, and never a proof.  The chain's verdict is its
weakest step (:func:`derive.check.verdict.weakest`).

Definitions: when a chain starts with a bare name followed by ``=`` and an expression that
does not mention the name (``H_out = floor(...) + 1``), the name is *defined*, not claimed:
that link is not checked, and later lines that use the name mean its definition (so
``H_out = output_size(H, K, P, S, D)`` further down is a checked claim).

Relations other than equality (``<=``, ``<`` ...) are read but not checked: such a step is
``unknown`` and says so.  Two are read specially (LaTeX):

* ``a \approx b`` is a numeric step (relation ``~=``): both sides must be numbers, and
  ``|a - b|`` must be at most half a unit in the last decimal written on the right (on the
  left when the right has no decimals), decided by interval arithmetic.  The step's method
  names the tolerance, so an approximate step is never mistaken for an exact one.
* ``A \implies B`` (``\Rightarrow``): the equations before the arrow are hypotheses (not
  checked as identities); the equations after it start a new chain that is checked with
  them as assumptions (shown among the assumptions in force), so ``3x + 1 = 7 \implies
  x = 2`` is a proof and ``2a = 6 \implies a = 4`` is refuted.

Every step shows its reading, the expression as the engine understood it (``read_as``: plain
text and LaTeX typeset by :func:`derive.render.printer.to_latex`), so a misreading is seen
beside the verdict.  A step may carry a ``hint``: the values to declare with ``# given:``
when a refuted line substitutes numbers for every symbol and none were given, or the
assumption that would make a step provable when a divisor may vanish.

>>> r = grade_text("floor((H + 2*P - K)/S) + 1\nfloor((H + 2*P - K + S)/S)")
>>> r.verdict.value, [s.line for s in r.steps]
('proved', [2])
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from derive.check.verdict import EXIT_CODES, Status, Verdict, _plain, weakest
from derive.errors import DeriveError, InputError
from derive.grade.reader import Derivation, read_file, read_text, split_assumptions

APPROX, IMPLIES = "~=", "=>"     # relations of LaTeX's \approx and \implies

_EQUALITIES = ("=", "==")

# Marks for each outcome: plain text, HTML, LaTeX.
MARKS = {
    Status.PROVED: ("ok", "&#10004;", r"\checkmark"),
    Status.TESTED: ("~", "&#8776;", r"\approx"),
    Status.UNKNOWN: ("?", "?", "?"),
    Status.ERROR: ("!", "!", "!"),
    Status.REFUTED: ("X", "&#10008;", r"\times"),
}


@dataclass(frozen=True)
class Definition:
    """``name`` defined on ``line`` as ``expr`` (not a checked claim)."""

    name: str
    expr: Any
    line: int


@dataclass(frozen=True)
class StepResult:
    """One checked step: the expression on ``line`` against the one on ``previous_line``."""

    index: int
    line: int
    column: int
    text: str
    expr: Any
    previous_line: int
    previous_column: int
    previous_text: str
    previous_expr: Any
    relation: str
    verdict: Verdict
    because: str = ""
    assume: tuple[str, ...] = ()
    hint: str = ""

    @property
    def status(self) -> Status:
        return self.verdict.status

    @property
    def read_as(self) -> dict[str, str]:
        """The step as the engine read it: ``{"text": sympy.sstr(expr), "latex": ...}``."""
        return reading(self.expr)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields; ``previous_value``/``value`` are both lines at the counterexample."""
        v = self.verdict
        return {
            "step": self.index,
            "line": self.line,
            "column": self.column,
            "previous_line": self.previous_line,
            "relation": self.relation,
            "text": self.text,
            "previous_text": self.previous_text,
            "verdict": v.status.value,
            "method": v.method,
            "counterexample": (None if v.counterexample is None else
                               {k: _plain(x) for k, x in sorted(v.counterexample.items())}),
            "previous_value": _plain(v.lhs_value),
            "value": _plain(v.rhs_value),
            "instances": v.instances,
            "lemmas": list(v.lemmas),
            "because": self.because,
            "assume": list(self.assume),
            "seconds": round(v.seconds, 4),
            "read_as": self.read_as,
            "detail": v.detail,
            "hint": self.hint,
        }


def reading(expr: Any) -> dict[str, str]:
    """``{"text": ..., "latex": ...}`` for a parsed expression (the project's printer).

    >>> import sympy
    >>> print(reading(sympy.floor(sympy.Symbol("a") / 2))["latex"])
    \\left\\lfloor \\frac{a}{2} \\right\\rfloor
    """
    import sympy

    text = sympy.sstr(expr)
    try:
        from derive.render.printer import to_latex
        latex = to_latex(expr)
    except Exception:  # the reading is a courtesy; a printer failure must not stop a report
        latex = ""
    return {"text": text, "latex": latex}


@dataclass(frozen=True, repr=False)
class DerivationReport:
    """The outcome of grading one derivation.

    ``verdict`` is the weakest step's status; ``first_wrong`` the first refuted step (else
    the first step in error); ``exit_code`` follows the command line (0 proved, 1 refuted,
    2 bad input or error, 3 tested or unknown).

    ``str(report)`` and ``repr(report)`` are the command line's text report
    (:meth:`explain`), so a plain-text frontend shows what ``derive verify --file`` prints;
    Jupyter shows :func:`derive.grade.notebook.report_html` (steps typeset, with marks).
    """

    steps: tuple[StepResult, ...]
    source: str = "<text>"
    fmt: str = "text"
    definitions: tuple[Definition, ...] = ()
    assume: tuple[str, ...] = ()
    lines: tuple[str, ...] = field(default=(), repr=False)
    seconds: float = 0.0

    @property
    def verdict(self) -> Status:
        return weakest(s.status for s in self.steps) if self.steps else Status.UNKNOWN

    @property
    def status(self) -> Status:
        """Alias of :attr:`verdict` (the name :class:`Verdict` uses)."""
        return self.verdict

    @property
    def first_wrong(self) -> StepResult | None:
        for wanted in (Status.REFUTED, Status.ERROR):
            for s in self.steps:
                if s.status is wanted:
                    return s
        return None

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    def to_dict(self) -> dict[str, Any]:
        """``{"verdict": ..., "steps": [...], ...}``, ready for ``json.dumps``."""
        wrong = self.first_wrong
        return {
            "verdict": self.verdict.value,
            "source": self.source,
            "format": self.fmt,
            "first_wrong_line": wrong.line if wrong else None,
            "first_wrong_column": wrong.column if wrong else None,
            "steps": [s.to_dict() for s in self.steps],
            "definitions": [{"name": d.name, "line": d.line, "expr": str(d.expr)}
                            for d in self.definitions],
            "assume": list(self.assume),
            "seconds": round(self.seconds, 4),
        }

    # -- words -------------------------------------------------------------------------
    def explain(self) -> str:
        """The report in plain words: one line per step, then the first wrong line."""
        wrong = self.first_wrong
        head = f"{self.source}: {self.verdict.value.upper()}"
        if not self.steps:
            head += " (no step to check: write at least two expressions)"
        elif wrong is not None and wrong.status is Status.REFUTED:
            head += f"; the first wrong step is line {wrong.line}, column {wrong.column}"
        elif wrong is not None:
            head += f"; line {wrong.line} could not be checked"
        else:
            counts = {st: sum(1 for s in self.steps if s.status is st) for st in Status}
            parts = [f"{n} {st.value}" for st, n in counts.items() if n]
            head += f" ({', '.join(parts)} of {len(self.steps)} steps)"
        out = [head]
        for d in self.definitions:
            out.append(f"  line {d.line:>3}  {'def':<8} {d.name} is defined as "
                       f"{_short(str(d.expr), 40)} (not checked)")
        shown = None
        for s in self.steps:
            if s.previous_line != shown and not any(d.line == s.previous_line
                                                    for d in self.definitions):
                out.append(f"  line {s.previous_line:>3}  {'':<8} {_short(s.previous_text, 48)}")
            shown = s.line
            label = {Status.PROVED: "proved", Status.TESTED: "tested", Status.UNKNOWN: "unknown",
                     Status.ERROR: "error", Status.REFUTED: "REFUTED"}[s.status]
            detail = s.verdict.method
            if s.status is Status.TESTED:
                detail = f"{s.verdict.instances} instances agree, no proof"
            rel = "" if s.relation in _EQUALITIES else f" [{s.relation}]"
            out.append(f"  line {s.line:>3}  {label:<8} {_short(s.text, 48)}{rel}"
                       + (f"   ({detail})" if detail else ""))
            out.append(f"             read as: {s.read_as['text']}")
            if s.because:
                out.append(f"             because: {s.because}")
            if s.hint and s is not wrong:
                out.append(f"             hint: {s.hint}")
        if wrong is not None:
            out.append("")
            out.extend(self._explain_wrong(wrong))
        return "\n".join(out)

    def _explain_wrong(self, s: StepResult) -> list[str]:
        source_line = self.lines[s.line - 1] if 1 <= s.line <= len(self.lines) else s.text
        gutter = f"  line {s.line} | "
        lines = [f"First wrong step: line {s.line}, column {s.column}",
                 gutter + source_line.rstrip(),
                 " " * (len(gutter) - 2) + "| " + " " * (s.column - 1) + "^"]
        v = s.verdict
        if s.status is Status.REFUTED:
            point = v.counterexample_text() or "the symbols take any value"
            same = s.previous_line == s.line
            if v.undefined_side:
                lines.append(f"  {'A side' if same else 'A line'} has no value when {point} "
                             f"({v.method.split(': ', 1)[-1]}):")
            elif same:
                lines.append(f"  The two sides differ when {point}:")
            else:
                lines.append(f"  It does not equal line {s.previous_line} when {point}:")
            names = (("left side", "right side") if same else
                     (f"line {s.previous_line}", f"line {s.line}"))
            lines.append(f"    {names[0]}: {_short(s.previous_text, 50)} = {_plain(v.lhs_value)}")
            lines.append(f"    {names[1]}: {_short(s.text, 50)} = {_plain(v.rhs_value)}")
            if v.method and not v.undefined_side:
                lines.append(f"  (found by {v.method})")
        else:
            lines.append(f"  {v.status.value}: {v.method}")
        if s.hint:
            lines.append(f"  hint: {s.hint}")
        if s.assume:
            lines.append(f"  assumptions in force: {'; '.join(s.assume)}")
        return lines

    def __str__(self) -> str:
        return self.explain()

    def __repr__(self) -> str:
        return self.explain()

    # -- notebooks ---------------------------------------------------------------------
    def _repr_html_(self) -> str:
        from derive.grade.notebook import report_html
        return report_html(self)

    def _repr_latex_(self) -> str:
        from derive.grade.notebook import report_latex
        return report_latex(self)


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 3] + "..."


# ---------------------------------------------------------------------------------------
# Grading


def grade_file(path: str | Path, assume: Sequence[str] = (), fmt: str | None = None,
               budget: float | None = None) -> DerivationReport:
    """Read and check a derivation file (``.txt`` one expression per line, ``.tex`` LaTeX).

    Malformed files raise :class:`~derive.errors.InputError` (or its subclass
    :class:`~derive.errors.ParseError`, with line and column).

    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
    ...     _ = f.write("a*(b + c)\\na*b + a*c\\n")
    >>> grade_file(f.name).exit_code
    0
    >>> os.unlink(f.name)
    """
    return grade(read_file(path, fmt), assume, budget)


def grade_text(text: str, fmt: str | None = None, assume: Sequence[str] = (),
               budget: float | None = None, source: str = "<text>") -> DerivationReport:
    """Read and check a derivation given as text (``fmt`` ``"text"``/``"latex"``/detect).

    The text is one expression per line or LaTeX (detected from a backslash command or
    ``$$``; ``fmt`` forces either); ``assume`` adds assumptions for every step, and
    ``# assume:`` / ``# given:`` lines (``%`` in LaTeX) add them below where they are
    written.  The report prints as the command line's text and displays in Jupyter with
    every step typeset and marked.  Malformed text raises
    :class:`~derive.errors.ParseError` naming the line and column.

    >>> r = grade_text("(a + b)**2\\na**2 + b**2")
    >>> r.verdict.value, r.first_wrong.line
    ('refuted', 2)
    >>> grade_text(r"\\frac{d}{dx} x^2 = 2x").verdict.value
    'proved'
    """
    return grade(read_text(text, fmt, source), assume, budget)


def grade(derivation: Derivation, assume: Sequence[str] = (),
          budget: float | None = None) -> DerivationReport:
    """Check every step of a derivation that has been read."""
    import sympy

    from derive.check.engine import check_exprs

    start = time.perf_counter()
    base = tuple(_normalise_assume(assume))
    entries = list(derivation.entries)
    notes = sorted(derivation.notes, key=lambda n: n.line)
    definitions: dict[str, Definition] = {}
    steps: list[StepResult] = []
    labels: set[int] = set()     # indices of entries that are defined names
    pending_because = [n for n in notes if n.kind == "because"]

    # 1. definitions, and later uses of a defined name replaced by its definition
    resolved: list[Any] = []
    for i, entry in enumerate(entries):
        expr = _substitute(entry.expr, definitions, sympy)
        nxt = entries[i + 1] if i + 1 < len(entries) else None
        if (entry.relation is None and isinstance(entry.expr, sympy.Symbol)
                and (derivation.fmt != "text" or entry.text.strip() == entry.expr.name)
                and nxt is not None and nxt.relation == "="
                and entry.expr.name not in definitions
                and entry.expr not in _free_symbols(nxt.expr)):
            labels.add(i)
            definitions[entry.expr.name] = Definition(entry.expr.name,
                                                      _substitute(nxt.expr, definitions, sympy),
                                                      entry.line)
        resolved.append(expr)

    premises, hypotheses = _premises(entries, resolved, labels, sympy)

    # 2. steps
    for i, entry in enumerate(entries):
        if (entry.relation in (None, IMPLIES) or i == 0 or (i - 1) in labels
                or i in hypotheses):
            continue
        prev = entries[i - 1]
        in_force = base + tuple(a for n in notes if n.kind in ("assume", "given")
                                and n.line < entry.line for a in split_assumptions(n.text))
        given = any(n.kind == "given" and n.line < entry.line for n in notes)
        because = entry.because
        if not because:
            for note in list(pending_because):
                if note.line <= entry.line:
                    because = note.text
                    pending_because.remove(note)
                    break
        divisors = ([_substitute(d, definitions, sympy) for d in prev.divisors],
                    [_substitute(d, definitions, sympy) for d in entry.divisors])
        if entry.relation == APPROX:
            verdict = _check_approx(resolved[i - 1], resolved[i], prev.text, entry.text)
        else:
            verdict = _check_step(resolved[i - 1], resolved[i], entry.relation,
                                  in_force + tuple(eq for eq, _ in premises[i]), budget,
                                  check_exprs, divisors)
        in_force = in_force + tuple(text for _, text in premises[i])
        hint = _hint(verdict, resolved[i - 1], resolved[i], entry.line, given, in_force,
                     derivation.fmt)
        steps.append(StepResult(len(steps) + 1, entry.line, entry.column, entry.text,
                                entry.expr, prev.line, prev.column, prev.text, prev.expr,
                                entry.relation, verdict, because, in_force, hint))
    return DerivationReport(tuple(steps), derivation.source, derivation.fmt,
                            tuple(definitions.values()), base, derivation.lines,
                            time.perf_counter() - start)


def _premises(entries: list[Any], resolved: list[Any], labels: set[int], sympy: Any
              ) -> tuple[list[tuple[tuple[Any, str], ...]], set[int]]:
    r"""For each entry, the equations it follows from through ``\implies`` (every
    equation of the chains before the arrow(s), as SymPy ``Eq`` and the text shown); and
    the entries that are such premises: hypotheses, not identities, so not checked."""
    out: list[tuple[tuple[Any, str], ...]] = []
    held: tuple[tuple[Any, str], ...] = ()
    chain: list[tuple[int, Any, str]] = []
    premise_entries: set[int] = set()
    for i, entry in enumerate(entries):
        if entry.relation is None:
            held, chain = (), []
        elif entry.relation == IMPLIES:
            held = held + tuple((eq, text) for _, eq, text in chain)
            premise_entries.update(k for k, _, _ in chain)
            chain = []
        elif entry.relation in _EQUALITIES and i > 0 and (i - 1) not in labels:
            eq = _solved(sympy.Eq(resolved[i - 1], resolved[i], evaluate=False), sympy)
            chain.append((i, eq, f"{sympy.sstr(resolved[i - 1])} == "
                                 f"{sympy.sstr(resolved[i])} (line {entries[i - 1].line})"))
        out.append(held)
    return out, premise_entries


def _solved(eq: Any, sympy: Any) -> Any:
    """``3*x + 1 = 7`` as ``x = 2`` (the same condition, in the form the domain uses as a
    value): only when the equation is linear in one symbol with a constant coefficient and
    fixes it to a number; otherwise the equation itself."""
    diff = sympy.expand(eq.lhs - eq.rhs)
    symbols = diff.free_symbols
    if len(symbols) != 1 or not isinstance(diff, sympy.Expr):
        return eq
    (s,) = symbols
    if not diff.is_polynomial(s) or sympy.degree(diff, s) != 1:
        return eq
    c = diff.coeff(s)
    if not c.is_number or c == 0:
        return eq
    return sympy.Eq(s, -(diff - c * s) / c, evaluate=False)


def _check_approx(lhs: Any, rhs: Any, lhs_text: str, rhs_text: str) -> Verdict:
    r"""``lhs \approx rhs``: within half a unit of the last decimal written (right side
    first), decided by interval arithmetic between numbers.

    >>> import sympy
    >>> _check_approx(sympy.pi, sympy.Rational(314, 100), r"\pi", "3.14").method
    'approximate: |lhs - rhs| <= 0.005 (half a unit in the last decimal written)'
    >>> _check_approx(sympy.Rational(2, 3), sympy.Rational(666, 1000), "2/3", "0.666").status
    <Status.REFUTED: 'refuted'>
    """
    import re
    from fractions import Fraction

    from derive.check.interval import within

    decimals = [len(d) for d in re.findall(r"\d\.(\d+)", rhs_text)] or [
        len(d) for d in re.findall(r"\d\.(\d+)", lhs_text)] or [0]
    tolerance = Fraction(1, 2 * 10 ** max(decimals))
    shown = f"{float(tolerance):g}"
    method = f"approximate: |lhs - rhs| <= {shown} (half a unit in the last decimal written)"
    names = sorted(str(s) for s in _free_symbols(lhs) | _free_symbols(rhs))
    if names:
        return Verdict(Status.UNKNOWN, f"an approximate step is checked only between numbers "
                                       f"({', '.join(names)} not given)")
    try:
        outcome = within(lhs, rhs, tolerance)
    except Exception as exc:  # the report must survive any failure of one step
        return Verdict(Status.ERROR, f"the checker failed on this step ({type(exc).__name__})")
    if outcome.kind == "agree":
        return Verdict(Status.PROVED, method, lhs_value=outcome.lhs, rhs_value=outcome.rhs)
    if outcome.kind == "differ":
        return Verdict(Status.REFUTED, method.replace("<=", ">", 1), counterexample={},
                       lhs_value=outcome.lhs, rhs_value=outcome.rhs)
    if outcome.kind == "undefined":
        return Verdict(Status.REFUTED, "approximate: a side has no value",
                       counterexample={}, lhs_value=outcome.lhs, rhs_value=outcome.rhs)
    return Verdict(Status.UNKNOWN, f"approximate step not decided ({outcome.reason})")


def _hint(verdict: Verdict, before: Any, after: Any, line: int, given: bool,
          in_force: tuple[str, ...], fmt: str) -> str:
    """What the writer could add: values to declare, or an assumption that excludes a zero
    divisor (empty when there is nothing to suggest)."""
    import re

    mark = "%" if fmt == "latex" else "#"
    if verdict.status is Status.REFUTED and verdict.undefined_side and verdict.detail:
        return f"{verdict.detail} (write `{mark} assume: ...` above line {line})"
    if verdict.status is Status.REFUTED and not given and not any(
            "==" in a for a in in_force):
        names = sorted(str(x) for x in _free_symbols(before))
        if names and not _free_symbols(after):
            return (f"line {line} substitutes numbers for {', '.join(names)}; declare them "
                    f"with `{mark} given: {', '.join(n + ' = ...' for n in names)}`")
    if verdict.status is Status.TESTED:
        m = re.search(r"the divisor (.+) could not be shown non-zero", verdict.method)
        if m:
            d = m.group(1)
            return (f"the divisor {d} may be zero; add an assumption that excludes it, such "
                    f"as `{mark} assume: {d} > 0` (or `< 0`)")
        if "divisor vanishes" in verdict.method:
            return (f"a divisor vanishes inside the domain; add an assumption that excludes "
                    f"its zeros (`{mark} assume: ...`)")
    return ""


def _normalise_assume(assume: Sequence[str] | str) -> list[str]:
    if isinstance(assume, str):
        assume = [assume]
    out = []
    for item in assume:
        if not isinstance(item, str):
            raise InputError(f"got assume item {item!r}; assumptions are text such as 's >= 2'")
        out.extend(split_assumptions(item))
    return out


def _free_symbols(expr: Any) -> set:
    return getattr(expr, "free_symbols", set())


def _substitute(expr: Any, definitions: dict[str, Definition], sympy: Any) -> Any:
    if not definitions or not isinstance(expr, sympy.Basic):
        return expr
    mapping = {s: definitions[s.name].expr for s in expr.free_symbols
               if isinstance(s, sympy.Symbol) and s.name in definitions}
    return expr.xreplace(mapping) if mapping else expr


def _check_step(lhs: Any, rhs: Any, relation: str, assume: tuple[str, ...],
                budget: float | None, check_exprs: Any,
                divisors: tuple[Sequence[Any], Sequence[Any]] = ((), ())) -> Verdict:
    if relation not in _EQUALITIES:
        return Verdict(Status.UNKNOWN, f"relation '{relation}' is not checked (only "
                                       f"equalities are)")
    try:
        return check_exprs(lhs, rhs, assume, budget, divisors=divisors)
    except DeriveError as exc:
        return Verdict(Status.ERROR, str(exc))
    except RecursionError:
        return Verdict(Status.ERROR, "expression too deeply nested to check")
    except Exception as exc:  # the report must survive any failure of one step
        return Verdict(Status.ERROR, f"the checker failed on this step "
                                     f"({type(exc).__name__}: {str(exc)[:200]})")
