"""Derivations: ordered steps, each checked against the previous one.

The chain's verdict is the weakest of its steps; a failing step is reported with its index,
both sides and the counterexample.

>>> r = check_derivation(["floor((H + 2*P - K)/S) + 1", "floor((H + 2*P - K + S)/S)"])
>>> r.status.value
'proved'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from derive.check.verdict import Status, Verdict, weakest


def check_chain(exprs: Sequence[Any], assume: Sequence[Any] = (),
                budget: float | None = None) -> list[Verdict]:
    """Verdicts of ``exprs[i] == exprs[i-1]`` for i >= 1.  An item that is a pair
    ``(lhs, rhs)`` or a SymPy ``Eq`` is a standalone claim checked on its own."""
    import sympy
    from derive.check.engine import check_exprs

    out = []
    prev = None
    for i, e in enumerate(exprs):
        if isinstance(e, sympy.Equality) or (isinstance(e, tuple) and len(e) == 2):
            lhs, rhs = (e.lhs, e.rhs) if isinstance(e, sympy.Equality) else e
            if i > 0:
                out.append(check_exprs(lhs, rhs, assume, budget))
            prev = rhs
            continue
        if i > 0:
            out.append(check_exprs(prev, e, assume, budget))
        prev = e
    return out


@dataclass(frozen=True)
class StepReport:
    index: int            # 1-based position of the step in the chain
    expr: Any
    why: str
    verdict: Verdict | None   # None for the first line


@dataclass(frozen=True)
class DerivationReport:
    steps: tuple[StepReport, ...]
    assumptions: tuple[str, ...] = ()

    @property
    def status(self) -> Status:
        return weakest(s.verdict.status for s in self.steps if s.verdict is not None)

    @property
    def first_failure(self) -> StepReport | None:
        for s in self.steps:
            if s.verdict is not None and s.verdict.status in (Status.REFUTED, Status.ERROR):
                return s
        return None

    def explain(self) -> str:
        lines = [f"derivation: {self.status.value}"]
        for s in self.steps:
            mark = "  " if s.verdict is None else {
                Status.PROVED: "ok", Status.TESTED: "~ ", Status.REFUTED: "XX",
                Status.UNKNOWN: "? ", Status.ERROR: "!!"}[s.verdict.status]
            why = f"   [{s.why}]" if s.why else ""
            lines.append(f"{mark} step {s.index}: {s.expr}{why}")
            if s.verdict is not None and s.verdict.status is not Status.PROVED:
                lines.append("      " + s.verdict.explain().replace("\n", "\n      "))
        return "\n".join(lines)


def check_derivation(steps: Sequence[Any], assume: Sequence[Any] = (),
                     whys: Sequence[str] = (), budget: float | None = None) -> DerivationReport:
    """Check a derivation given as expressions or claim texts (parsed safely)."""
    from derive.check.parse import parse_expression

    exprs = [parse_expression(s) if isinstance(s, str) else s for s in steps]
    verdicts = check_chain(exprs, assume, budget)
    whys = list(whys) + [""] * (len(exprs) - len(whys))
    reports = [StepReport(1, exprs[0], whys[0], None)] if exprs else []
    reports += [StepReport(i + 2, e, w, v)
                for i, (e, w, v) in enumerate(zip(exprs[1:], whys[1:], verdicts))]
    return DerivationReport(tuple(reports), tuple(str(a) for a in assume))
