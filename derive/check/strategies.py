"""Proof strategies, tried in order until one names an argument.

Each strategy returns ``(method, lemmas)`` when it proves ``lhs == rhs`` over the domain, or
``None``.  A strategy never claims more than its argument gives: a SymPy routine whose
answer is untrustworthy in a case (summation that returns Piecewise) is not accepted there.
Strategies run only after the counterexample search found nothing, and always under the
claim's time budget.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import sympy

from derive.check.domain import Domain
from derive.check.lemmas import canonical_difference

Proof = Optional[tuple[str, tuple[str, ...]]]

_FLOORISH = (sympy.floor, sympy.ceiling, sympy.Mod, sympy.frac)
_SUMS = (sympy.Sum, sympy.Product)


def _has(e: Any, kinds: tuple) -> bool:
    return isinstance(e, sympy.Basic) and e.has(*kinds)


def shift_lower_bounds(lhs: Any, rhs: Any, domain: Domain,
                       facts: list | None = None) -> tuple[Any, Any, list[str]]:
    """Substitute ``s = t + (L - 1)`` for integer symbols bounded below by ``L >= 2`` so that
    SymPy's assumptions (positive ``t``) carry the bound into the lemmas' side conditions."""
    subs = {}
    notes = []
    names = set() if isinstance(lhs, sympy.MatrixBase) else {
        x.name for x in (lhs - rhs).free_symbols}
    for name in sorted(names | set(domain.symbols)):
        d = domain.of(name)
        if d.integer and d.lower is not None and d.lower >= 2 and d.lower.denominator == 1:
            # a fresh symbol: a name built from the user's could be one of theirs
            t = sympy.Dummy(f"{name}'", integer=True, positive=True)
            subs[d.sympy_symbol()] = t + int(d.lower) - 1
            notes.append(f"{name} = {name}' + {int(d.lower) - 1}, {name}' >= 1")
    if facts is not None:
        facts[:] = [f.xreplace(subs) for f in domain.nonnegative_facts()]
    if not subs:
        return lhs, rhs, notes
    return lhs.xreplace(subs), rhs.xreplace(subs), notes


def identical(lhs: Any, rhs: Any, domain: Domain) -> Proof:
    """Both sides are the same expression once SymPy has built them, up to the names of
    summation indices (``sum_u w_u`` is ``sum_v w_v``)."""
    if lhs == rhs:
        return "identical after SymPy's automatic evaluation", ()
    if _has(lhs, _SUMS) and _has(rhs, _SUMS) and bound_renamed(lhs) == bound_renamed(rhs):
        return "identical up to the names of summation indices", ()
    return None


def bound_renamed(e: Any, counter: Any = None) -> Any:
    """``e`` with every summation/product index renamed, in order of appearance, to the
    same fresh integer names (so two sums that differ only in their indices' names, or in
    those names' assumptions, become equal).

    >>> u, v, K = sympy.symbols("u v K")
    >>> w = sympy.IndexedBase("w")
    >>> bound_renamed(sympy.Sum(w[u], (u, 0, K))) == bound_renamed(sympy.Sum(w[v], (v, 0, K)))
    True
    """
    import itertools
    counter = counter if counter is not None else itertools.count()
    if not isinstance(e, sympy.Basic) or e.is_Atom:
        return e
    if isinstance(e, _SUMS):
        fresh = {var: sympy.Dummy("i", dummy_index=_BOUND_BASE + next(counter), integer=True)
                 for var, _, _ in e.limits}
        e = e.xreplace(fresh)
        return e.func(bound_renamed(e.function, counter),
                      *[(v, bound_renamed(lo, counter), bound_renamed(hi, counter))
                        for v, lo, hi in e.limits])
    return e.func(*[bound_renamed(a, counter) for a in e.args])


_BOUND_BASE = 7_000_000     # dummy indices of renamed summation indices


def canonical_form(lhs: Any, rhs: Any, domain: Domain) -> Proof:
    """Polynomial/rational identity: expand and cancel to zero."""
    if _has(lhs, _FLOORISH + _SUMS + (sympy.Piecewise,)) or _has(
            rhs, _FLOORISH + _SUMS + (sympy.Piecewise,)):
        return None
    if sympy.cancel(sympy.expand(lhs - rhs)) == 0:
        return "canonical form (expand and cancel)", ()
    return None


def floor_lemmas(lhs: Any, rhs: Any, domain: Domain) -> Proof:
    """Rewrite floors, ceilings and Mod with the lemma layer, then compare polynomially."""
    if not (_has(lhs, _FLOORISH) or _has(rhs, _FLOORISH)) or _has(lhs, _SUMS) or _has(rhs, _SUMS):
        return None
    facts: list = []
    a, b, notes = shift_lower_bounds(lhs, rhs, domain, facts)
    diff, used = canonical_difference(a, b, facts)
    if diff == 0:
        lemmas = tuple(f"{l.name}: {l.statement} ({l.condition})" for l in used.values())
        names = ", ".join(sorted(used)) or "SymPy's own floor evaluation"
        extra = f"; with {'; '.join(notes)}" if notes else ""
        return f"floor/ceiling lemmas ({names}){extra}", lemmas
    return None


MAX_RESIDUE_CASES = 64


def residue_cases(lhs: Any, rhs: Any, domain: Domain) -> Proof:
    """Floors with constant divisors: split every symbol under them by its residue modulo
    the divisors' lcm (``x = L*m + j``, ``m`` any integer, ``j = 0..L-1``); in each case
    the floors reduce exactly, and all cases together cover every integer."""
    if not (_has(lhs, _FLOORISH) or _has(rhs, _FLOORISH)) or _has(lhs, _SUMS) or _has(rhs, _SUMS):
        return None
    from derive.check.lemmas import Rewriter
    rw = Rewriter()
    diff = sympy.expand(rw.normalize(lhs) - rw.normalize(rhs))
    floors = diff.atoms(sympy.floor)
    if not floors:
        return None
    dens, names = [], set()
    for f in floors:
        n, d = sympy.fraction(sympy.together(f.args[0]))
        content, _ = sympy.expand(n).as_content_primitive()
        d = d * (content.q if content.is_Rational else 1)
        if not d.is_Integer:
            return None
        dens.append(int(d))
        names |= {x for x in f.args[0].free_symbols}
    if any(not x.is_integer for x in names):
        return None
    modulus = 1
    for d in dens:
        modulus = sympy.ilcm(modulus, d)
    names = sorted(names, key=lambda x: x.name)
    # a declared parity (SymPy is not told it: its inference from parity is unreliable)
    # leaves the residues of that parity, once the modulus is even
    parity = {x: domain.of(x.name).parity for x in names}
    if modulus % 2 and any(p is not None for p in parity.values()):
        modulus *= 2
    choices = [[j for j in range(int(modulus)) if parity[x] is None or j % 2 == parity[x]]
               for x in names]
    cases = 1
    for c in choices:
        cases *= len(c)
    if modulus < 2 or cases > MAX_RESIDUE_CASES:
        return None
    import itertools
    ms = {x: sympy.Dummy(f"{x.name}_q", integer=True) for x in names}
    for residues in itertools.product(*choices):
        case = {x: modulus * ms[x] + j for x, j in zip(names, residues)}
        d, _ = canonical_difference(diff.xreplace(case), sympy.Integer(0))
        if d != 0:
            return None
    which = ", ".join(x.name for x in names)
    kinds = "; ".join(f"{x.name} {'odd' if p else 'even'}" for x, p in parity.items()
                      if p is not None)
    return (f"case split on {which} modulo {modulus} ({cases} case{'s' if cases != 1 else ''}"
            f"{', ' + kinds if kinds else ''}), floors exact in each case", ())


def _closed_sum(e: Any, facts: Sequence[Any] = ()) -> Any:
    """Evaluate every Sum/Product in closed form; None if any result is untrustworthy.

    SymPy sums by Karr's convention (``Sum(1, (k, 1, n - 2))`` is ``n - 2`` even at
    ``n = 1``), which agrees with the usual one only on ranges that are not reversed; so
    a symbolic range must be shown non-reversed (``hi - lo + 1 >= 0``) for every value of
    the enclosing indices, and a concrete reversed range is an empty sum (0) or product (1).
    """
    if not _has(e, _SUMS):
        return e
    out = e
    for s in sorted(e.atoms(*_SUMS), key=lambda x: -sympy.count_ops(x)):
        concrete = all(lo.is_number and hi.is_number for _, lo, hi in s.limits)
        # SymPy's summation mishandles KroneckerDelta (it counts non-integer roots)
        if s.has(sympy.Piecewise, sympy.KroneckerDelta) or (s.has(sympy.Indexed)
                                                             and not concrete):
            return None
        if not _ranges_not_reversed(s, facts):
            if not concrete:
                return None
            from derive.check.evaluate import _write_out
            value = _write_out(s)
        else:
            value = s.doit()
        if _has(value, _SUMS + (sympy.Piecewise,)):
            return None
        out = out.xreplace({s: value})
    return out


def _ranges_not_reversed(s: Any, facts: Sequence[Any]) -> bool:
    """Whether every range of ``s`` has ``hi >= lo - 1``, for every value of the indices
    of the ranges around it (an index ``v`` of ``lo..hi`` is written ``lo + t``, ``t >= 0``,
    which covers the range whatever its end)."""
    from derive.check.lemmas import Rewriter
    rw = Rewriter(facts)
    subs: dict[Any, Any] = {}
    for var, lo, hi in reversed(s.limits):          # the last limit is the outermost
        span = sympy.expand((hi - lo + 1).xreplace(subs))
        if not (span.is_number and span >= 0) and not _nonnegative(span, rw):
            return False
        subs[var] = lo.xreplace(subs) + sympy.Dummy("t", integer=True, nonnegative=True)
    return True


def _nonnegative(e: Any, rw: Any) -> bool:
    """``e >= 0`` from the assumptions, where a floor of a non-negative quotient counts
    as non-negative (``floor(u/v) >= 0`` for ``u >= 0``, ``v > 0``)."""
    if rw.nonnegative(e):
        return True
    floors = {}
    for f in e.atoms(sympy.floor):
        num, den = sympy.fraction(sympy.together(f.args[0]))
        if den.is_positive and rw.nonnegative(num):
            floors[f] = sympy.Dummy("q", integer=True, nonnegative=True)
    return bool(floors) and rw.nonnegative(e.xreplace(floors))


def _all_concrete(*exprs: Any) -> bool:
    return all(lo.is_number and hi.is_number for e in exprs
               for s in e.atoms(*_SUMS) for _, lo, hi in s.limits)


def sums_closed_form(lhs: Any, rhs: Any, domain: Domain) -> Proof:
    """Evaluate sums/products symbolically (rejecting Piecewise results), then compare."""
    if not (_has(lhs, _SUMS) or _has(rhs, _SUMS)):
        return None
    facts: list = []
    a, b, notes = shift_lower_bounds(lhs, rhs, domain, facts)
    a2, b2 = _closed_sum(a, facts), _closed_sum(b, facts)
    if a2 is None or b2 is None:
        return None
    for inner in (canonical_form, floor_lemmas):
        got = inner(a2, b2, domain)
        if got:
            how = "sum expanded term by term" if _all_concrete(a, b) else "sum evaluated in closed form"
            return f"{how}, then {got[0]}", got[1]
    return None


def delta_sums(lhs: Any, rhs: Any, domain: Domain) -> Proof:
    """A sum in which a Kronecker delta picks one term: ``sum_{u=lo}^{hi} delta(u, m) f(u)``
    is ``f(m)`` when the assumptions give ``lo <= m <= hi`` for an integer ``m`` (the
    derivative of a correlation by one weight).  SymPy's own summation of deltas is not
    trusted (see ``_closed_sum``); this one term is picked by hand, then compared."""
    kinds = (sympy.KroneckerDelta, sympy.Derivative)
    if not (_has(lhs, kinds) or _has(rhs, kinds)):
        return None
    from derive.check.lemmas import Rewriter
    facts: list = []
    a, b, _ = shift_lower_bounds(_differentiated(lhs), _differentiated(rhs), domain, facts)
    rw = Rewriter(facts)
    a2, b2 = _pick_deltas(a, rw), _pick_deltas(b, rw)
    if a2 is None or b2 is None:
        return None
    got = canonical_form(a2, b2, domain)
    if got:
        return f"the delta picks one term of the sum (its index within the range), then " \
               f"{got[0]}", got[1]
    return None


def sum_linearity(lhs: Any, rhs: Any, domain: Domain) -> Proof:
    """Linearity of finite sums: every sum of terms is split into sums of one term each,
    and each factor free of the summation indices is taken out; the two sides are then
    compared as polynomials in the sums that remain (up to the names of their indices).
    Linearity holds for any range, an empty one included, so no side condition is needed.

    >>> k, n, c = sympy.symbols("k n c", integer=True)
    >>> x, y = sympy.IndexedBase("x"), sympy.IndexedBase("y")
    >>> sum_linearity(sympy.Sum(c*x[k] + y[k], (k, 0, n - 1)),
    ...               c*sympy.Sum(x[k], (k, 0, n - 1)) + sympy.Sum(y[k], (k, 0, n - 1)),
    ...               None)[0]
    'linearity of finite sums (terms split, factors free of the index taken out)'
    """
    if not (_has(lhs, (sympy.Sum,)) or _has(rhs, (sympy.Sum,))):
        return None
    if isinstance(lhs, sympy.MatrixBase) or isinstance(rhs, sympy.MatrixBase):
        return None
    a, b = bound_renamed(_split_sums(lhs)), bound_renamed(_split_sums(rhs))
    if sympy.expand(a - b) == 0:
        return "linearity of finite sums (terms split, factors free of the index taken out)", ()
    return None


def _split_sums(e: Any) -> Any:
    """``e`` with each ``Sum`` written as a combination of sums of single products."""
    if not isinstance(e, sympy.Basic) or e.is_Atom:
        return e
    if isinstance(e, sympy.Sum):
        body = _split_sums(e.function)
        bound = {v for v, _, _ in e.limits}
        out = sympy.Integer(0)
        for term in sympy.Add.make_args(sympy.expand(body)):
            free, tied = [], []
            for factor in sympy.Mul.make_args(term):
                (tied if factor.free_symbols & bound else free).append(factor)
            out += sympy.Mul(*free) * sympy.Sum(sympy.Mul(*tied), *e.limits)
        return out
    return e.func(*[_split_sums(a) for a in e.args])


def _differentiated(e: Any) -> Any:
    """``e`` with its derivatives carried out (d/dw_m of a sum over w_u gives the sum of
    delta(m, u) terms)."""
    if not _has(e, (sympy.Derivative,)):
        return e
    return e.replace(lambda z: isinstance(z, sympy.Derivative), lambda z: z.doit())


def _pick_deltas(e: Any, rw: Any) -> Any:
    """``e`` with every single-range sum of delta terms replaced by the picked terms; None
    when a sum with a delta is not of that form or the index is not shown in range."""
    picked = {}
    for s in e.atoms(sympy.Sum):
        if not s.has(sympy.KroneckerDelta):
            continue
        if len(s.limits) != 1 or s.function.has(sympy.Sum):
            return None
        u, lo, hi = s.limits[0]
        total = sympy.Integer(0)
        for term in sympy.Add.make_args(sympy.expand(s.function)):
            factors = sympy.Mul.make_args(term)
            deltas = [f for f in factors if isinstance(f, sympy.KroneckerDelta) and f.has(u)]
            if len(deltas) != 1:
                return None
            d = deltas[0]
            other = d.args[1] if d.args[0] == u else d.args[0] if d.args[1] == u else None
            if other is None or other.has(u) or other.is_integer is not True:
                return None
            if not (rw.nonnegative(other - lo) and rw.nonnegative(hi - other)):
                return None
            rest = sympy.Mul(*[f for f in factors if f is not d])
            total += rest.xreplace({u: other})
        picked[s] = total
    return e.xreplace(picked)


def finite_expansion(lhs: Any, rhs: Any, domain: Domain) -> Proof:
    """For a finite domain: expand every sum at every point and compare symbolically,
    treating indexed entries (x[i], w[k]) as independent unknowns."""
    from derive.check.claim import _free
    free = _free(lhs - rhs)
    names = sorted(s.name for s in free)
    values = [domain.of(n).finite_values for n in names]
    if any(v is None for v in values):
        return None
    import itertools
    total = 1
    for v in values:
        total *= len(v)  # type: ignore[arg-type]
    if total == 0 or total > 400:
        return None
    by_name = {s.name: s for s in free}
    for combo in itertools.product(*values):  # type: ignore[arg-type]
        point = {by_name[n]: sympy.Integer(v) for n, v in zip(names, combo)}
        if (lhs - rhs).has(sympy.KroneckerDelta):
            return None  # SymPy's summation mishandles KroneckerDelta
        from derive.check.evaluate import _write_out
        d = _write_out((lhs - rhs).xreplace(point)).doit()   # empty ranges: 0 and 1
        if _has(d, _SUMS + (sympy.Piecewise,)):
            return None
        d = sympy.expand(d)
        if d != 0:
            diff, _ = canonical_difference(d, sympy.Integer(0))
            if diff != 0:
                return None
    where = domain.describe()
    cases = "1 case" if total == 1 else f"{total} cases"
    return (f"finite expansion over the stated domain ({cases}{': ' + where if where else ''})",
            ())


def sympy_simplify(lhs: Any, rhs: Any, domain: Domain) -> Proof:
    """SymPy's simplify, only where it is reliable: no floors, sums or Piecewise."""
    if _has(lhs, _FLOORISH + _SUMS + (sympy.Piecewise,)) or _has(
            rhs, _FLOORISH + _SUMS + (sympy.Piecewise,)):
        return None
    if sympy.simplify(lhs - rhs) == 0:
        return "SymPy simplify to zero (no floor, sum or piecewise terms)", ()
    return None


STRATEGIES: tuple[Callable[[Any, Any, Domain], Proof], ...] = (
    identical, canonical_form, floor_lemmas, residue_cases, delta_sums, sums_closed_form,
    sum_linearity, finite_expansion,
    sympy_simplify,
)
