"""Derivations: ordered steps, each checked against the previous one.

A step is an expression, checked against the previous step (its right side when that step
is a claim), or a stand-alone claim (a SymPy ``Eq``, a pair ``(lhs, rhs)`` or the text
``"lhs == rhs"``), checked on its own wherever it stands.  The chain's verdict is the
weakest of its checked steps; a derivation in which nothing was checked (a single
expression) is ``unknown``, never ``proved``.  A failing step is reported with its index,
both sides and the counterexample.

>>> r = check_derivation(["floor((H + 2*P - K)/S) + 1", "floor((H + 2*P - K + S)/S)"])
>>> r.status.value
'proved'
>>> check_derivation(["floor(a/2) + floor((a + 1)/2) == a + 1"]).status.value
'refuted'
>>> check_derivation(["a + b"]).status.value
'unknown'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from derive.check.verdict import Status, Verdict, weakest
from derive.errors import InputError, ParseError


def _is_claim(item: Any) -> bool:
    """A stand-alone claim: a SymPy ``Eq`` or a pair ``(lhs, rhs)``."""
    import sympy
    return isinstance(item, sympy.Equality) or (isinstance(item, tuple) and len(item) == 2)


def _sides(item: Any) -> tuple[Any, Any]:
    return (item.lhs, item.rhs) if not isinstance(item, tuple) else item


def _refuse_truth_values(exprs: Sequence[Any], name: str) -> None:
    """A truth value or an inequality is not a step: SymPy evaluates ``Eq(x, x + 1)`` to
    ``False`` as it is built, and comparing such an object with a number says nothing."""
    import sympy
    for i, e in enumerate(exprs):
        if isinstance(e, (bool, sympy.logic.boolalg.BooleanAtom, sympy.Rel,
                          sympy.logic.boolalg.BooleanFunction)) and not _is_claim(e):
            raise InputError(
                f"got {name}[{i}]={e!r}, a truth value or a relation, not an expression or a "
                f"claim; build a claim with Eq(lhs, rhs, evaluate=False) or as a pair (lhs, rhs)")


def _check_items(exprs: Sequence[Any], assume: Sequence[Any], budget: float | None,
                 name: str = "exprs") -> list[Verdict | None]:
    """One entry per item: a claim's own verdict, an expression's verdict against the
    previous item (its right side for a claim), ``None`` for an expression that starts the
    chain (there is nothing before it to compare with)."""
    from derive.check.engine import check_exprs

    _refuse_truth_values(exprs, name)
    out: list[Verdict | None] = []
    prev: Any = None
    for i, e in enumerate(exprs):
        if _is_claim(e):
            lhs, rhs = _sides(e)
            out.append(check_exprs(lhs, rhs, assume, budget))
            prev = rhs
        else:
            out.append(None if i == 0 else check_exprs(prev, e, assume, budget))
            prev = e
    return out


def check_chain(exprs: Sequence[Any], assume: Sequence[Any] = (),
                budget: float | None = None) -> list[Verdict]:
    """Verdicts of ``exprs[i] == exprs[i-1]`` for i >= 1, one per item after the first.

    An item that is a pair ``(lhs, rhs)`` or a SymPy ``Eq`` is a stand-alone claim checked on
    its own; the item after it continues from its right side.  The list has no place for a
    verdict on the first item, so a chain that starts with a claim is refused rather than
    left unchecked (:func:`check_derivation` reports every step, a first claim included).

    >>> import sympy
    >>> a = sympy.Symbol("a")
    >>> claim = sympy.Eq(a, a + 1, evaluate=False)
    >>> [v.status.value for v in check_chain([2*a, a + a, claim])]
    ['proved', 'refuted']
    >>> check_chain([claim])
    Traceback (most recent call last):
    ...
    derive.errors.InputError: got exprs[0]=Eq(a, a + 1), a stand-alone claim; check_chain returns one verdict per item after the first and cannot report it: start the chain with an expression, or use check_derivation
    """
    if exprs and _is_claim(exprs[0]):
        raise InputError(f"got exprs[0]={exprs[0]!r}, a stand-alone claim; check_chain returns "
                         f"one verdict per item after the first and cannot report it: start "
                         f"the chain with an expression, or use check_derivation")
    verdicts = _check_items(exprs, assume, budget)[1:]
    return [v for v in verdicts if v is not None]


@dataclass(frozen=True)
class StepReport:
    index: int            # 1-based position of the step in the chain
    expr: Any
    why: str
    verdict: Verdict | None   # None only for an expression that starts the chain


@dataclass(frozen=True)
class DerivationReport:
    steps: tuple[StepReport, ...]
    assumptions: tuple[str, ...] = ()

    @property
    def checked(self) -> int:
        """How many steps carry a verdict."""
        return sum(1 for s in self.steps if s.verdict is not None)

    @property
    def status(self) -> Status:
        # weakest() of no verdicts is PROVED; a derivation that checked nothing proves nothing.
        if not self.checked:
            return Status.UNKNOWN
        return weakest(s.verdict.status for s in self.steps if s.verdict is not None)

    @property
    def first_failure(self) -> StepReport | None:
        for s in self.steps:
            if s.verdict is not None and s.verdict.status in (Status.REFUTED, Status.ERROR):
                return s
        return None

    def explain(self) -> str:
        head = f"derivation: {self.status.value}"
        if not self.checked:
            head += (" (nothing to check: a single expression; write a claim 'lhs == rhs' or "
                     "at least two expressions)")
        lines = [head]
        for s in self.steps:
            mark = "  " if s.verdict is None else {
                Status.PROVED: "ok", Status.TESTED: "~ ", Status.REFUTED: "XX",
                Status.UNKNOWN: "? ", Status.ERROR: "!!"}[s.verdict.status]
            why = f"   [{s.why}]" if s.why else ""
            lines.append(f"{mark} step {s.index}: {s.expr}{why}")
            if s.verdict is not None and s.verdict.status is not Status.PROVED:
                lines.append("      " + s.verdict.explain().replace("\n", "\n      "))
        return "\n".join(lines)


def _read_step(text: str, index: int) -> Any:
    """A step given as text: an expression, or a claim ``lhs == rhs`` (parsed safely)."""
    import sympy
    from derive.check.parse import parse_relation

    try:
        operands, ops = parse_relation(text)
    except ParseError as exc:
        raise exc.with_context(f"while reading step {index}") from None
    if not ops:
        return operands[0]
    if ops == ["=="]:
        return sympy.Eq(operands[0], operands[1], evaluate=False)
    raise ParseError(f"step {index} is a comparison with {' '.join(ops)}; a step is an "
                     f"expression or a claim 'lhs == rhs'", text=text)


def check_derivation(steps: Sequence[Any], assume: Sequence[Any] = (),
                     whys: Sequence[str] = (), budget: float | None = None) -> DerivationReport:
    """Check a derivation given as expressions, stand-alone claims (``Eq``, pairs) or their
    texts (parsed safely).  ``whys[i]`` is shown beside step ``i + 1``.

    >>> check_derivation([])
    Traceback (most recent call last):
    ...
    derive.errors.InputError: got steps=[]; a derivation needs at least one claim 'lhs == rhs' or two expressions
    """
    if isinstance(steps, (str, bytes)) or not hasattr(steps, "__iter__"):
        raise InputError(f"got steps={steps!r}; a derivation is a list of steps (expressions "
                         f"or claims)")
    steps = list(steps)
    if not steps:
        raise InputError(f"got steps={list(steps)!r}; a derivation needs at least one claim "
                         f"'lhs == rhs' or two expressions")
    if isinstance(whys, str) or len(whys) > len(steps):
        raise InputError(f"got whys={whys!r} for {len(steps)} steps; give at most one reason "
                         f"per step, as a list")
    exprs = [_read_step(s, i) if isinstance(s, str) else s for i, s in enumerate(steps, 1)]
    verdicts = _check_items(exprs, assume, budget, "steps")
    whys = list(whys) + [""] * (len(exprs) - len(whys))
    reports = tuple(StepReport(i + 1, e, w, v)
                    for i, (e, w, v) in enumerate(zip(exprs, whys, verdicts)))
    return DerivationReport(reports, tuple(str(a) for a in assume))
