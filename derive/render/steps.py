"""Numbering and describing checked steps, shared by the LaTeX and Markdown renderers.

Design rule: both outputs number the checked lines of a part the same way (every derivation
step that has a verdict, and every claim or numeric check, counts 1, 2, 3, ... within the
part), and both say how a line was checked with :func:`verdict_text`, so the book, its index
of checks and the Markdown docs always agree.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from derive.book.model import (
    OUT_OF_SCOPE, Check, Derivation, DerivationStep, Explanation, Listing, Measurement,
    PartResult, ProblemResult,
)
from derive.check.verdict import Status, Verdict
from derive.render.prose import engine_note

# Status words, strongest first (the order of summaries and legends).
STATUSES = ("proved", "tested", "cross-checked", "explanation", "code", "experiment",
            "out-of-scope", "unknown", "refuted", "error")

# Status -> the LaTeX macro of its mark (drawn in templates/preamble.tex.j2).
TEX_MARKS: dict[str, str] = {
    "proved": r"\MarkProved",
    "tested": r"\MarkTested",
    "cross-checked": r"\MarkCrossChecked",
    "explanation": r"\MarkExplained",
    "code": r"\MarkCode",
    "experiment": r"\MarkExperiment",
    "out-of-scope": r"\MarkOutOfScope",
    "unknown": r"\MarkUnknown",
    "refuted": r"\MarkRefuted",
    "error": r"\MarkError",
}

# Status -> the sign shown in Markdown (the same meaning as the book's marks).
MD_SIGNS: dict[str, str] = {
    "proved": "✔",
    "tested": "≈",
    "cross-checked": "⇄",
    "explanation": "○",
    "code": "⌨",
    "experiment": "⚗",
    "out-of-scope": "⊘",
    "unknown": "?",
    "refuted": "✘",
    "error": "!",
}


def part_name(problem_id: str, label: str) -> str:
    """How a part is named in messages and indexes.

    >>> part_name("8.4", "b"), part_name("practice-2", "")
    ('8.4(b)', 'practice-2')
    """
    return f"{problem_id}({label})" if label else problem_id


def verdict_text(v: Verdict, *, lemmas: bool = True) -> str:
    """How a verdict was reached, in one plain-text line (``lemmas=False``: without the
    statements of the lemmas a proof used).

    >>> verdict_text(Verdict(Status.TESTED, "random sampling", instances=200))
    'tested numerically on 200 instances (random sampling); not a proof'
    >>> verdict_text(Verdict(Status.REFUTED, "search", counterexample={"K": 3, "H": 2},
    ...              lhs_value=1, rhs_value=0))
    'refuted at H=2, K=3: left side 1, right side 0'
    """
    s = v.status
    if s is Status.PROVED:
        text = f"proved: {v.method}" if v.method else "proved"
        if v.lemmas and lemmas:
            text += " (lemmas: " + "; ".join(v.lemmas) + ")"
        return text
    if s is Status.TESTED:
        how = f" ({v.method})" if v.method else ""
        noun = "instance" if v.instances == 1 else "instances"
        return f"tested numerically on {v.instances} {noun}{how}; not a proof"
    if s is Status.REFUTED:
        where = v.counterexample_text()
        return (f"refuted at {where}: left side {_plain(v.lhs_value)}, "
                f"right side {_plain(v.rhs_value)}" if where else
                f"refuted ({v.method}): left side {_plain(v.lhs_value)}, "
                f"right side {_plain(v.rhs_value)}")
    if s is Status.UNKNOWN:
        return f"unknown: {v.method}" if v.method else "unknown"
    return f"check failed: {v.method}" if v.method else "check failed"


# Optional packages by their import name, as a reader knows them.
PACKAGE_NAMES = {"torch": "PyTorch"}


def cross_check_cells(c: Check) -> dict[str, Any]:
    """What a cross-check table shows of ``c``: ``quantity`` and ``how`` (prose with
    ``$...$`` maths), ``engine`` and ``reference`` (values, rounded as in
    :func:`shown_value`; ``reference`` is ``None`` where an optional package is absent),
    and ``agreement`` (prose).  The same whether or not an optional package is installed,
    unless the comparison failed."""
    v = c.verdict
    how = c.method or _reference_of(v.method)
    if c.kind == "optional" and not v.refuted:
        name = PACKAGE_NAMES.get(c.requires, c.requires)
        return dict(quantity=c.why or "value", engine=shown_value(c.lhs), reference=None,
                    how=how, agreement=f"compared where {name} is installed")
    if v.status is Status.PROVED:
        agreement = "equal"
    elif v.status is Status.TESTED:
        tol = c.tol if c.tol is not None else 1e-9
        agreement = f"equal to within {engine_note(f'{tol:.0e}')}"
    elif v.refuted:
        agreement = f"differ: {_plain(shown_value(v.lhs_value))} against " \
                    f"{_plain(shown_value(v.rhs_value))}"
        where = (v.counterexample or {}).get("index") if isinstance(v.counterexample,
                                                                    dict) else None
        if where is not None:
            agreement += f" (entry {where})"
    else:
        agreement = f"not compared: {v.method}"
    return dict(quantity=c.why or "value", engine=shown_value(c.lhs),
                reference=shown_value(c.rhs), how=how, agreement=agreement)


def _reference_of(method: str) -> str:
    """The reference computation named in a cross-check verdict's method.

    >>> _reference_of("exact evaluation, cross-checked by direct loops")
    'direct loops'
    >>> _reference_of("NumPy loops: agree to within 1e-12")
    'NumPy loops'
    """
    method = re.sub(r"^exact evaluation, cross-checked by ", "", method)
    return re.sub(r": (?:agree to within|max abs difference) .*$", "", method)


def cross_check_status(c: Check) -> str:
    """'cross-checked' for an agreeing (or, for an optional package, a not yet run)
    cross-check; otherwise the verdict's status."""
    if c.verdict.status in (Status.PROVED, Status.TESTED) or (
            c.kind == "optional" and c.verdict.status is Status.UNKNOWN):
        return "cross-checked"
    return c.verdict.status.value


def cross_check_text(c: Check) -> str:
    """One line: the reference computation and whether it agreed (prose with maths)."""
    cells = cross_check_cells(c)
    return f"against {cells['how']}: {cells['agreement']}"


def shown_value(value: Any) -> Any:
    """``value`` as a page shows it: floats to 6 significant digits and rounding residues
    (below 1e-9 in size) as 0, so the page does not depend on the machine's rounding.

    >>> shown_value((0.1 + 0.2, 8.9e-16, 3))
    (0.3, 0.0, 3)
    """
    import numpy as np
    import sympy
    if isinstance(value, bool):
        return value
    if isinstance(value, (float, np.floating)) or (isinstance(value, sympy.Float)):
        x = float(value)
        return 0.0 if abs(x) < 1e-9 else float(f"{x:.6g}")
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "fc":
            out = np.vectorize(lambda x: shown_value(float(x)), otypes=[float])(value)
            return out
        return value
    if isinstance(value, sympy.MatrixBase):
        return value.applyfunc(lambda x: sympy.Float(shown_value(x)) if isinstance(
            x, sympy.Float) else x)
    if isinstance(value, (tuple, list)):
        return type(value)(shown_value(v) for v in value)
    return value


def _plain(value: Any) -> str:
    return str(value)


def numbered(part: PartResult) -> Iterator[tuple[int, Any, Any]]:
    """``(n, block, item)`` for every checked line of ``part``: ``item`` is the
    :class:`DerivationStep` or the :class:`Check` itself; ``n`` counts from 1."""
    n = 0
    for block in part.blocks:
        if isinstance(block, Derivation):
            for step in block.steps:
                if step.verdict is not None:
                    n += 1
                    yield n, block, step
        elif isinstance(block, Check) and not block.is_cross_check:
            n += 1
            yield n, block, block


def step_numbers(part: PartResult) -> dict[int, int]:
    """``id(item) -> n`` for the checked lines of ``part`` (used while rendering)."""
    return {id(item): n for n, _block, item in numbered(part)}


def index_rows(result: ProblemResult) -> list[dict[str, Any]]:
    """One row per checked line, explanation, code listing, measurement, out-of-scope part or
    failed part.

    Each row has ``part`` (e.g. ``"8.4(b)"``), ``short`` (``"(b)"``), ``n`` (step number or
    ``""``), ``why``,
    ``status`` (one of :data:`STATUSES`), ``method``, ``kind`` (``claim``,
    ``cross-check``, ``conditional`` for a cross-check against an optional package,
    ``explanation``, ``code``, ``experiment``, ``out-of-scope`` or ``error``) and ``instances`` (for a tested claim,
    how many instances it was tested on)."""
    rows: list[dict[str, Any]] = []
    pid = result.problem.id
    for pr in result.parts:
        name = part_name(pid, pr.part.label)
        short = f"({pr.part.label})" if pr.part.label else ""
        if pr.part.scope == OUT_OF_SCOPE:
            rows.append(dict(part=name, short=short, n="", why=pr.part.reason or "out of scope",
                             status="out-of-scope", method="not machine-checked",
                             kind="out-of-scope", instances=0))
        for n, _block, item in numbered(pr):
            verdict = item.verdict
            why = item.why if isinstance(item, (DerivationStep, Check)) else ""
            if isinstance(item, Check) and not why:
                why = "claim"
            rows.append(dict(part=name, short=short, n=n, why=why, status=verdict.status.value,
                             method=verdict_text(verdict), kind="claim",
                             instances=verdict.instances or 0))
        for c in pr.cross_checks:
            rows.append(dict(part=name, short=short, n="", why=c.why or "cross-check",
                             status=cross_check_status(c), method=cross_check_text(c),
                             kind="conditional" if c.kind == "optional" else "cross-check",
                             instances=0))
        for block in pr.blocks:
            if isinstance(block, Listing):
                tests = f"; tested against PyTorch by {block.tests}" if block.tests else ""
                rows.append(dict(part=name, short=short, n="", why=f"listing {block.name}",
                                 status="code", method="reference code" + tests,
                                 kind="code", instances=0))
            elif isinstance(block, Measurement):
                rows.append(dict(part=name, short=short, n="", why=_first_words(block.what),
                                 status="experiment",
                                 method=f"measured by experiment {block.experiment} "
                                        f"({block.scale} configuration, seed {block.seed}); "
                                        "not proved",
                                 kind="experiment", instances=0))
            if isinstance(block, Explanation):
                rests = ", ".join(block.rests_on)
                rows.append(dict(part=name, short=short, n="", why=_first_words(block.text),
                                 status="explanation",
                                 method="explanation, not machine-checked" +
                                        (f"; rests on {rests}" if rests else ""),
                                 kind="explanation", instances=0))
        if pr.error:
            rows.append(dict(part=name, short=short, n="", why="solving raised an error",
                             status="error", method=pr.error, kind="error", instances=0))
    return rows


def _first_words(text: str, n: int = 70) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= n else flat[: n - 3].rsplit(" ", 1)[0] + "..."
