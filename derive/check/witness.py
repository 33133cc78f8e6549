"""The one way out for a counterexample: re-checked before it is reported.

Design rule: every ``REFUTED`` verdict of the checker is made here and nowhere else.  The
point is checked again against the domain (every symbol inside its range and kind, every
relation among symbols), and both sides are evaluated again by a second route: SymPy's
own arithmetic on the substituted expression, with sums written out term by term under
the engine's convention for empty ranges and arrays read from the values drawn at that
point.  A point where a side is undefined is confirmed the same way (a divisor that is
zero there, or a side with no finite real value).  A counterexample that fails any of
this is not reported; the claim is then *unknown*, which is never wrong.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import sympy
from sympy.core.function import AppliedUndef

from derive.check.claim import Claim
from derive.check.evaluate import Declined, Inexact, Instance, Undefined, _write_out, _Compiler
from derive.check.search import UNDEFINED, SearchResult, in_domain
from derive.check.verdict import Status, Verdict

FOUND_BY = "search over small values and seeded random values"


def refutation(claim: Claim, found: SearchResult, how: str = FOUND_BY) -> Verdict:
    """The ``REFUTED`` verdict for the counterexample in ``found``, once re-checked; an
    ``UNKNOWN`` verdict naming the point if it does not survive the re-check."""
    inst = found.instance
    assert inst is not None and found.counterexample is not None
    problem = _recheck(claim, found, inst)
    if problem:
        return Verdict(Status.UNKNOWN, f"a counterexample was found but did not survive the "
                       f"re-check ({problem}); no verdict", claim=claim.text,
                       detail=f"point: {found.counterexample}")
    method = how
    detail = ""
    if found.undefined:
        method = f"undefined at a point of the domain: {found.undefined}"
        detail = f"add an assumption that excludes it, such as {_hint(claim, found)}"
    elif found.numeric:
        method = f"{how}; the values differ by more than their interval-arithmetic error bounds"
    return Verdict(Status.REFUTED, method, claim=claim.text,
                   counterexample=found.counterexample, lhs_value=found.lhs_value,
                   rhs_value=found.rhs_value, instances=found.instances, detail=detail)


def _recheck(claim: Claim, found: SearchResult, inst: Instance) -> str:
    from dataclasses import replace
    if claim.original is not None:      # the claim as given, not SymPy's rebuild of it
        claim = replace(claim, lhs=claim.original[0], rhs=claim.original[1])
    point = inst.values
    if not in_domain(claim.domain, point):
        return "the point is outside the domain"
    env = {sympy.Symbol(k): _rat(v) for k, v in point.items()}
    for c in claim.domain.constraints:
        try:
            holds = c.xreplace(env) is sympy.true
        except (ArithmeticError, ValueError, TypeError):
            holds = False
        if not holds:
            return f"the point breaks the assumption {sympy.sstr(c)}"
    if found.numeric or (found.undefined and found.undefined == "a side has no real value"):
        from derive.check.interval import compare
        got = compare(claim.lhs, claim.rhs, inst)
        wanted = "undefined" if found.undefined else "differ"
        return "" if got.kind == wanted else f"interval arithmetic says {got.kind}"
    if found.undefined:
        if _divisor_vanishes(claim, point) or UNDEFINED in (
                _value(claim.lhs, inst), _value(claim.rhs, inst)) or _undefined_again(claim, inst):
            return ""
        return "neither side is undefined there on re-evaluation"
    a, b = _value(claim.lhs, inst), _value(claim.rhs, inst)
    if a is None or b is None:      # SymPy could not redo it: the exact evaluator again
        comp = _Compiler()
        try:
            a = comp.compile(claim.lhs)(inst, {})
            b = comp.compile(claim.rhs)(inst, {})
        except (Undefined, Declined, Inexact, ZeroDivisionError) as exc:
            return f"re-evaluation failed ({type(exc).__name__})"
    if a == b:
        return "both sides are equal on re-evaluation"
    if _same(a, found.lhs_value) and _same(b, found.rhs_value):
        return ""
    return "the values differ from the search's"


def _undefined_again(claim: Claim, inst: Instance) -> bool:
    """The exact evaluator, asked afresh, finds a side undefined (a root of a negative
    number, a factorial of a negative integer...)."""
    for side in (claim.lhs, claim.rhs):
        try:
            _Compiler().compile(side)(inst, {})
        except (Undefined, ZeroDivisionError):
            return True
        except (Declined, Inexact):
            pass
    return False


def _rat(v: Fraction) -> Any:
    return sympy.Rational(v.numerator, v.denominator)


def _same(v: Any, shown: Any) -> bool:
    return isinstance(v, Fraction) and sympy.Rational(v.numerator, v.denominator) == shown


def _divisor_vanishes(claim: Claim, point: dict[str, Fraction]) -> bool:
    return any(_vanishes(c, point) for c in claim.nonzero)


def _value(expr: Any, inst: Instance) -> Any:
    """``expr`` at the point by SymPy's arithmetic: a Fraction, UNDEFINED, or None when
    SymPy cannot finish (then the exact evaluator is asked again)."""
    try:
        env = {s: _rat(inst.values[s.name]) for s in expr.free_symbols
               if isinstance(s, sympy.Symbol) and s.name in inst.values}
        with sympy.evaluate(False):    # else SymPy sums a constant range by Karr's rule
            e = expr.xreplace(env)
        e = _write_out(e).doit()
        arrays = inst.arrays

        def entry(x: Any) -> Any:
            key = str(x.base.label) if isinstance(x, sympy.Indexed) else f"{x.func.__name__}()"
            args = x.indices if isinstance(x, sympy.Indexed) else x.args
            idx = tuple(Fraction(int(i.p), int(i.q)) for i in args)
            return _rat(arrays[key][idx])

        e = e.replace(lambda x: isinstance(x, (sympy.Indexed, AppliedUndef)), entry)
        e = e.doit()
    except (Declined, KeyError, AttributeError, TypeError, ValueError, RecursionError,
            ArithmeticError):
        return None
    if e.has(sympy.nan, sympy.zoo) or e.is_infinite:
        return UNDEFINED
    if e.is_Rational:
        return Fraction(int(e.p), int(e.q))
    return None


def _hint(claim: Claim, found: SearchResult) -> str:
    """An assumption that excludes the counterexample: on a symbol of the divisor that
    vanishes there (any symbol when it is not a divisor), a bound when the value sits at
    the end of its range, else ``!=``."""
    point = found.counterexample or {}
    names = sorted(n for n in point if n in claim.domain.symbols)
    env = {k: Fraction(v) for k, v in point.items() if k in claim.domain.symbols}
    culprits = [d for d in claim.nonzero if _vanishes(d, env)]
    if culprits:
        mentioned = {s.name for d in culprits for s in d.free_symbols}
        names = [n for n in names if n in mentioned] or names
    for name in names:
        d, v = claim.domain.of(name), Fraction(point[name])
        if d.integer and d.lower is not None and v == d.lower:
            return f"{name} >= {_plain(v + 1)}"
        if d.integer and d.upper is not None and v == d.upper:
            return f"{name} <= {_plain(v - 1)}"
    return f"{names[0]} != {_plain(Fraction(point[names[0]]))}" if names else "a narrower domain"


def _vanishes(divisor: Any, env: dict[str, Fraction]) -> bool:
    if not {s.name for s in divisor.free_symbols} <= set(env):
        return False
    try:
        return _write_out(divisor.xreplace({s: _rat(env[s.name])
                                            for s in divisor.free_symbols})) == 0
    except (ArithmeticError, Declined, ValueError, TypeError):
        return True


def _plain(v: Fraction) -> Any:
    return int(v) if v.denominator == 1 else v
