"""Numbering and describing checked steps, shared by the LaTeX and Markdown renderers.

Design rule: both outputs number the checked lines of a part the same way (every derivation
step that has a verdict, and every claim or numeric check, counts 1, 2, 3, ... within the
part), and both say how a line was checked with :func:`verdict_text`, so the book, its index
of checks and the Markdown docs always agree.
"""

from __future__ import annotations

from typing import Any, Iterator

from derive.book.model import (
    OUT_OF_SCOPE, Check, Derivation, DerivationStep, Explanation, PartResult, ProblemResult,
)
from derive.check.verdict import Status, Verdict

# Status words, strongest first (the order of summaries and legends).
STATUSES = ("proved", "tested", "explanation", "out-of-scope", "unknown", "refuted", "error")

# Status -> the LaTeX macro of its mark (drawn in templates/preamble.tex.j2).
TEX_MARKS: dict[str, str] = {
    "proved": r"\MarkProved",
    "tested": r"\MarkTested",
    "explanation": r"\MarkExplained",
    "out-of-scope": r"\MarkOutOfScope",
    "unknown": r"\MarkUnknown",
    "refuted": r"\MarkRefuted",
    "error": r"\MarkError",
}

# Status -> the sign shown in Markdown (the same meaning as the book's marks).
MD_SIGNS: dict[str, str] = {
    "proved": "✔",
    "tested": "≈",
    "explanation": "○",
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
        elif isinstance(block, Check):
            n += 1
            yield n, block, block


def step_numbers(part: PartResult) -> dict[int, int]:
    """``id(item) -> n`` for the checked lines of ``part`` (used while rendering)."""
    return {id(item): n for n, _block, item in numbered(part)}


def index_rows(result: ProblemResult) -> list[dict[str, Any]]:
    """One row per checked line, explanation, out-of-scope part or failed part.

    Each row has ``part`` (e.g. ``"8.4(b)"``), ``short`` (``"(b)"``), ``n`` (step number or
    ``""``), ``why``,
    ``status`` (one of :data:`STATUSES`) and ``method``."""
    rows: list[dict[str, Any]] = []
    pid = result.problem.id
    for pr in result.parts:
        name = part_name(pid, pr.part.label)
        short = f"({pr.part.label})" if pr.part.label else ""
        if pr.part.scope == OUT_OF_SCOPE:
            rows.append(dict(part=name, short=short, n="", why=pr.part.reason or "out of scope",
                             status="out-of-scope", method="not machine-checked"))
        for n, _block, item in numbered(pr):
            verdict = item.verdict
            why = item.why if isinstance(item, (DerivationStep, Check)) else ""
            if isinstance(item, Check) and not why:
                why = "numeric cross-check" if item.kind == "numeric" else "claim"
            rows.append(dict(part=name, short=short, n=n, why=why, status=verdict.status.value,
                             method=verdict_text(verdict)))
        for block in pr.blocks:
            if isinstance(block, Explanation):
                rests = ", ".join(block.rests_on)
                rows.append(dict(part=name, short=short, n="", why=_first_words(block.text),
                                 status="explanation",
                                 method="explanation, not machine-checked" +
                                        (f"; rests on {rests}" if rests else "")))
        if pr.error:
            rows.append(dict(part=name, short=short, n="", why="solving raised an error", status="error",
                             method=pr.error))
    return rows


def _first_words(text: str, n: int = 70) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= n else flat[: n - 3].rsplit(" ", 1)[0] + "..."
