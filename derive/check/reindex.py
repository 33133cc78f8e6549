"""Checked rewriting rules for finite sums over indexed arrays.

Design rule: SymPy leaves ``Sum(g[i] * KroneckerDelta(...))`` and ``Sum(w[u] * Piecewise(...))``
unevaluated or, worse, evaluates them without the integrality condition (``Sum(w[u] *
KroneckerDelta(a, D*u), (u, 0, K - 1)).doit()`` reads ``w[a/D]`` even when ``D`` does not
divide ``a``).  So every rewrite of such a sum here is an instance of a *named rule* whose
side conditions are established on the expression at hand before the rule fires:

- :func:`differentiate`: termwise derivative of a finite sum (limits free of the variable,
  ``d X[t]/d X[a] = KroneckerDelta(t, a)``);
- :func:`merge_sums`: linearity, a factor moved inside a sum that does not bind its symbols;
- :func:`eliminate_delta`: ``Sum_v f(v) * KroneckerDelta(c*v + r, 0)`` keeps the single term
  ``v = -r/c`` (the coefficient ``c`` is nonzero), guarded by "``c`` divides ``r``" and "the
  term lies in the summation range";
- :func:`reindex`: the substitution ``v = +-v' + b``, a bijection of integer intervals whose
  endpoints are checked;
- :func:`intersect_bounds`: a ``Piecewise`` whose condition is linear in the summation variable
  narrows the limits (intersection of the two ranges, zero when it is empty);
- :func:`drop_implied`: a condition implied by the ranges of the indices is dropped
  (linear in each index, so checking the interval endpoints suffices);
- :func:`normalize_conditions`: every inequality moved to the form ``e >= 0``;
- :func:`substitute`: a definition replaced by its right-hand side.

A derivation is a :class:`CheckedChain` of such rewrites (built with :class:`ChainBuilder`);
:func:`meet` joins two chains that end in the same expression, which proves their
starting points equal.

A rule that cannot establish a side condition raises :class:`~derive.errors.UnsupportedError`
instead of rewriting.  Every rewrite is then cross-checked by the counterexample search
(both sides evaluated exactly, arrays filled with random integers, sizes kept small); a
disagreement makes the verdict ``REFUTED`` (a bug, never hidden), agreement leaves the
rule's proof standing.  SymPy's summation convention for reversed limits (Karr's) is
respected: rules require ``hi >= lo - 1`` (a genuine, possibly empty, range).

>>> import sympy
>>> from derive.symbols import sym
>>> K, D = sym("K"), sym("D")
>>> u = sympy.Symbol("u", integer=True, nonnegative=True)
>>> a = sympy.Symbol("a", integer=True, nonnegative=True)
>>> w = sympy.IndexedBase("w")
>>> r = eliminate_delta(sympy.Sum(w[u] * sympy.KroneckerDelta(a, D * u), (u, 0, K - 1)), u)
>>> r.verdict.status.value
'proved'
>>> r.after
Piecewise((w[a/D], Eq(Mod(a, D), 0) & (a <= D*(K - 1))), (0, True))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import sympy

from derive.check.verdict import Status, Verdict
from derive.symbols import as_expr
from derive.errors import UnsupportedError

__all__ = [
    "ChainBuilder",
    "CheckedChain",
    "Ranges",
    "Rewrite",
    "SearchLimits",
    "canonical_conditions",
    "chain_status",
    "cross_check",
    "differentiate",
    "drop_implied",
    "eliminate_delta",
    "intersect_bounds",
    "linear_coefficient",
    "meet",
    "merge_sums",
    "normalize_conditions",
    "reindex",
    "substitute",
]

Ranges = Mapping[sympy.Symbol, tuple[Any, Any]]

SEARCH_SIZE_BOUND = 5      # sizes in the cross-check search stay this small (sums are nested)
SEARCH_POINTS = 48         # random points after the small-value box


@dataclass(frozen=True)
class SearchLimits:
    """How hard the cross-check searches: sizes up to ``bound``, at most ``points``
    instances.  Deeply nested sums (2D, channels, batch) need smaller values."""

    bound: int = SEARCH_SIZE_BOUND
    points: int = 200


@dataclass(frozen=True)
class Rewrite:
    """One application of a rule: ``before == after`` by ``rule``.

    ``conditions`` lists the side conditions established (in words); ``verdict`` is
    ``PROVED`` when they hold and the cross-check found no counterexample.  ``rule`` and
    ``conditions`` are plain text (a verdict's method, a terminal); ``shown_rule`` and
    ``shown_conditions`` say the same for a page, their maths between dollar signs in the
    claim language (:mod:`derive.render.prose`).
    """

    rule: str
    before: Any
    after: Any
    conditions: tuple[str, ...]
    verdict: Verdict
    shown_rule: str = ""
    shown_conditions: tuple[str, ...] = ()

    @property
    def proved(self) -> bool:
        return self.verdict.status is Status.PROVED

    def why(self) -> str:
        """The rule and its side conditions in one line, for a derivation step (prose with
        ``$...$`` maths)."""
        rule = self.shown_rule or self.rule
        conditions = self.shown_conditions or self.conditions
        if not conditions:
            return rule
        return f"{rule}: " + "; ".join(conditions)


# --------------------------------------------------------------------------- texts

# A rule's words come in two versions: plain text (a verdict's method and lemmas, printed by
# the command line) and prose for a page, where the maths stands between dollar signs in
# the claim language.  A pair is (plain, prose); a single string is prose and its plain
# version drops the dollar signs.
Words = Any   # str | tuple[str, str]

_RELATION_TEXT = {"==": "=", "!=": "!=", "<=": "<=", ">=": ">=", "<": "<", ">": ">"}


def _src(e: Any) -> str:
    """``e`` in the claim language (a relation with ``=`` for an equation).

    >>> a = sympy.Symbol("a")
    >>> _src(sympy.Eq(sympy.Mod(a, 2), 0)), _src(a - 1 >= 0)
    ('Mod(a, 2) = 0', 'a - 1 >= 0')
    """
    if isinstance(e, sympy.Rel):
        return f"{sympy.sstr(e.lhs)} {_RELATION_TEXT[e.rel_op]} {sympy.sstr(e.rhs)}"
    return sympy.sstr(e)


def _m(e: Any) -> str:
    """``e`` as inline maths, ``$...$``; a conjunction as its parts joined by "and".

    >>> a = sympy.Symbol("a", integer=True)
    >>> _m(sympy.And(a >= 0, a <= 3))
    '$a >= 0$ and $a <= 3$'
    """
    if isinstance(e, sympy.And):
        return " and ".join(_m(p) for p in e.args)
    return f"${_src(e)}$"


def _unmath(text: str) -> str:
    """Prose as plain text: the dollar signs around its maths dropped."""
    import re
    return re.sub(r"(?<!\\)\$", "", text)


def _plain_and_shown(words: Words) -> tuple[str, str]:
    if isinstance(words, tuple):
        return words
    return _unmath(words), words


# --------------------------------------------------------------------------- helpers

def linear_coefficient(expr: Any, var: sympy.Symbol) -> tuple[Any, Any] | None:
    """``(c, r)`` with ``expr == c*var + r`` and ``c``, ``r`` free of ``var``; None if
    ``expr`` is not of degree <= 1 in ``var``.

    >>> S, i = sympy.symbols("S i")
    >>> linear_coefficient(S*i + 3 - i, i)
    (S - 1, 3)
    """
    e = sympy.expand(expr)
    if not e.has(var):
        return sympy.Integer(0), e
    if not e.is_polynomial(var):
        return None
    c = sympy.expand(sympy.diff(e, var))
    if c.has(var):
        return None
    rest = sympy.expand(e - c * var)
    if rest.has(var):  # pragma: no cover - excluded by the polynomial test
        return None
    return c, rest


def _labels(e: Any) -> set:
    return {b.label for b in e.atoms(sympy.IndexedBase)} if isinstance(e, sympy.Basic) else set()


def _plain_free(e: Any) -> set:
    """Free symbols standing for numbers (not the labels of indexed arrays)."""
    if not isinstance(e, sympy.Basic):
        return set()
    return {s for s in e.free_symbols if isinstance(s, sympy.Symbol) and s not in _labels(e)}


def _find_sum(expr: Any, var: sympy.Symbol) -> sympy.Sum:
    hits = [s for s in expr.atoms(sympy.Sum) if var in s.variables]
    if len(hits) != 1:
        raise UnsupportedError(
            f"expected exactly one Sum over {var} in {expr}; found {len(hits)}")
    return hits[0]


def _genuine_range(lo: Any, hi: Any) -> tuple[str, str]:
    """Establish ``hi - lo + 1 >= 0`` (Karr's convention then sums over ``lo..hi``); the
    reason in words, plain and for a page."""
    span = sympy.expand(hi - lo + 1)
    if span.is_nonnegative is not True:
        raise UnsupportedError(
            f"cannot establish that {lo} <= {hi} + 1 (the range {lo}..{hi} could be reversed, "
            "where SymPy's sums follow Karr's convention)")
    return (f"{lo}..{hi} is a genuine range ({hi} - ({lo}) + 1 = {span} >= 0)",
            f"{_m(lo)} to {_m(hi)} is a genuine range (it has ${sympy.sstr(span)} >= 0$ terms)")


def _known_sign(c: Any) -> int:
    if c.is_positive is True:
        return 1
    if c.is_negative is True:
        return -1
    return 0


def _atoms_of(cond: Any) -> list[Any]:
    if cond is sympy.true:
        return []
    if isinstance(cond, sympy.And):
        return list(cond.args)
    return [cond]


def _as_nonneg(rel: Any) -> Any | None:
    """``rel`` written as ``expr >= 0`` (integer data: ``a < b`` is ``b - a - 1 >= 0``)."""
    if isinstance(rel, (sympy.GreaterThan, sympy.LessThan, sympy.StrictGreaterThan,
                        sympy.StrictLessThan)):
        big, small = (rel.lhs, rel.rhs) if isinstance(
            rel, (sympy.GreaterThan, sympy.StrictGreaterThan)) else (rel.rhs, rel.lhs)
        d = sympy.expand(big - small)
        if isinstance(rel, (sympy.StrictGreaterThan, sympy.StrictLessThan)):
            if d.is_integer is not True:
                return None
            d = d - 1
        return d
    return None


# --------------------------------------------------------------------------- cross-check

def cross_check(before: Any, after: Any, ranges: Ranges | None = None,
                assume: Sequence[Any] = (), *, seed: str = "",
                bound: int | None = None, points: int | None = None) -> Verdict:
    """Search for an instance where ``before != after``: small values first, then seeded
    random ones (at most ``points`` instances), sizes bounded by ``bound`` (default
    :data:`SEARCH_SIZE_BOUND`), indices inside ``ranges``; arrays are filled with random
    integers as they are read.

    Returns ``REFUTED`` with the counterexample, or ``TESTED`` with the number of instances.

    >>> x = sympy.IndexedBase("x")
    >>> k, n = sympy.symbols("k n", integer=True, positive=True)
    >>> cross_check(sympy.Sum(x[k], (k, 1, n)), sympy.Sum(x[n + 1 - k], (k, 1, n))).status.value
    'tested'
    >>> cross_check(sympy.Sum(x[k], (k, 1, n)), sympy.Sum(x[n - k], (k, 1, n))).status.value
    'refuted'
    """
    import random

    from derive.check.budget import time_limit
    from derive.check.claim import Claim, fresh_name
    from derive.check.evaluate import Declined, Inexact, Instance, Undefined, _Compiler
    from derive.check.search import candidate_points
    from derive.errors import BudgetExceeded

    ranges = dict(ranges or {})
    free = _plain_free(before) | _plain_free(after)
    names = {q.name for q in free}
    rel: list[Any] = list(assume)

    def plain(e: Any) -> Any:   # plain symbols, so that no relation evaluates to True early
        e = as_expr(e)
        return e.xreplace({q: sympy.Symbol(fresh_name(q)) for q in e.free_symbols})

    for s in sorted(free, key=lambda q: q.name):
        if s in ranges:
            for end, rel_of in zip(ranges[s], (sympy.Ge, sympy.Le)):
                # a bound through a symbol absent from both sides restricts nothing
                if {q.name for q in as_expr(end).free_symbols} <= names:
                    rel.append(rel_of(plain(s), plain(end)))
        elif s.is_integer:
            rel.append(sympy.Le(plain(s), SEARCH_SIZE_BOUND if bound is None else bound))
    claim = Claim.from_exprs(before, after, rel)
    limit = 200 if points is None else points
    comp = _Compiler()
    f, g = comp.compile(claim.lhs), comp.compile(claim.rhs)
    cons = [comp.compile_bool(c) for c in claim.domain.constraints]
    instances = 0
    try:
        with time_limit(8.0) as deadline:
            for k, point in enumerate(candidate_points(claim.names, claim.domain,
                                                       seed or claim.text, SEARCH_POINTS)):
                if instances >= limit:
                    break
                if k % 8 == 0:
                    deadline.check()
                inst = Instance(point, random.Random(f"{seed}|{k}"))
                try:
                    if not all(c(inst, {}) for c in cons):
                        continue
                    lv, rv = f(inst, {}), g(inst, {})
                except (Undefined, Declined, Inexact, ZeroDivisionError, OverflowError):
                    continue
                instances += 1
                if lv != rv:     # reported through the checker's one re-check
                    from derive.check.search import SearchResult
                    from derive.check.witness import refutation
                    return refutation(claim, SearchResult(
                        counterexample=inst.report(), lhs_value=_num(lv), rhs_value=_num(rv),
                        instances=instances, instance=inst))
    except BudgetExceeded:
        if instances == 0:
            return Verdict(Status.UNKNOWN, "cross-check search ran out of time",
                           claim=claim.text)
    if instances == 0:
        return Verdict(Status.UNKNOWN, "no instance where both sides are defined",
                       claim=claim.text)
    return Verdict(Status.TESTED, f"no counterexample in {instances} instances "
                   f"(sizes <= {SEARCH_SIZE_BOUND if bound is None else bound})",
                   claim=claim.text, instances=instances)


def _num(v: Any) -> Any:
    return int(v) if v.denominator == 1 else sympy.Rational(v.numerator, v.denominator)


def _conclude(words: Words, before: Any, after: Any, conditions: Sequence[Words],
              ranges: Ranges | None, assume: Sequence[Any] = (),
              check_before: Any = None, check_after: Any = None,
              limits: "SearchLimits | None" = None) -> Rewrite:
    """Combine the rule (side conditions established) with the cross-check.  The rule and
    the conditions are given as :data:`Words` (plain and for a page)."""
    rule, shown_rule = _plain_and_shown(words)
    pairs = [_plain_and_shown(c) for c in conditions]
    cb = before if check_before is None else check_before
    ca = after if check_after is None else check_after
    lim = limits or SearchLimits()
    test = cross_check(cb, ca, ranges, assume, seed=rule, bound=lim.bound, points=lim.points)
    conds = tuple(plain for plain, _ in pairs)
    if test.status is Status.REFUTED:
        verdict = Verdict(Status.REFUTED, f"{rule} does not hold here; {test.method}",
                          claim=test.claim, counterexample=test.counterexample,
                          lhs_value=test.lhs_value, rhs_value=test.rhs_value,
                          instances=test.instances)
    elif test.status is Status.TESTED:
        verdict = Verdict(Status.PROVED,
                          f"{rule} (side conditions checked); cross-checked: {test.method}",
                          claim=test.claim, instances=test.instances, lemmas=conds)
    else:
        verdict = Verdict(Status.UNKNOWN, f"{rule}: side conditions checked but the "
                          f"cross-check failed ({test.method})", claim=test.claim,
                          lemmas=conds)
    return Rewrite(rule, before, after, conds, verdict, shown_rule,
                   tuple(shown for _, shown in pairs))


# --------------------------------------------------------------------------- rules

def differentiate(expr: Any, wrt: sympy.Indexed | None = None, ranges: Ranges | None = None,
                  *, limits: "SearchLimits | None" = None) -> Rewrite:
    """Termwise derivative with respect to the array entry ``wrt``.

    ``expr`` is either the expression to differentiate or contains unevaluated
    ``Derivative(E, X[a])`` nodes (all with respect to the same entry, and ``X`` nowhere
    else), which are evaluated.  Sums are differentiated under the sign (their limits must
    not involve ``X``); ``d X[t]/d X[a]`` is the product of ``KroneckerDelta(t_k, a_k)``.
    Cross-checked by the exact identity ``E(X + h e_a) - E(X) == h * dE/dX[a]`` (``E``
    linear in ``X``, as a convolution is in each of its arrays).

    >>> x, g = sympy.IndexedBase("x"), sympy.IndexedBase("g")
    >>> i = sympy.Symbol("i", integer=True, nonnegative=True)
    >>> m = sympy.Symbol("m", integer=True, nonnegative=True)
    >>> n = sympy.Symbol("n", integer=True, positive=True)
    >>> differentiate(sympy.Sum(g[i] * x[i + 1], (i, 0, n - 1)), x[m]).after
    Sum(KroneckerDelta(m, i + 1)*g[i], (i, 0, n - 1))
    """
    nodes = list(expr.atoms(sympy.Derivative)) if isinstance(expr, sympy.Basic) else []
    if nodes:
        variables = {v for d_ in nodes for v, _ in d_.variable_count}
        counts = {c for d_ in nodes for _, c in d_.variable_count}
        if len(variables) != 1 or counts != {1} or (wrt is not None and variables != {wrt}):
            raise UnsupportedError(f"expected first derivatives with respect to one entry; "
                                   f"got {sorted(map(str, variables))}")
        wrt = next(iter(variables))
    if not isinstance(wrt, sympy.Indexed):
        raise UnsupportedError(f"got wrt={wrt!r}; expected an array entry such as x[m]")
    base = wrt.base

    def d(e: Any) -> Any:
        if not e.has(base):
            return sympy.Integer(0)
        if isinstance(e, sympy.Sum):
            for lim in e.limits:
                if lim[1].has(base) or lim[2].has(base):
                    raise UnsupportedError(f"the limits of {e} depend on {base}")
                if lim[0] in wrt.free_symbols:
                    raise UnsupportedError(
                        f"summation variable {lim[0]} clashes with the index of {wrt}")
            return sympy.Sum(d(e.function), *e.limits)
        if isinstance(e, sympy.Add):
            return sympy.Add(*[d(t) for t in e.args])
        if isinstance(e, sympy.Mul):
            terms = []
            for k, f in enumerate(e.args):
                df = d(f)
                if df != 0:
                    terms.append(sympy.Mul(*(e.args[:k] + (df,) + e.args[k + 1:])))
            return sympy.Add(*terms)
        if isinstance(e, sympy.Indexed) and e.base == base:
            if len(e.indices) != len(wrt.indices):
                raise UnsupportedError(f"{e} and {wrt} have different ranks")
            return sympy.Mul(*[sympy.KroneckerDelta(b, a)
                               for a, b in zip(e.indices, wrt.indices)])
        if isinstance(e, sympy.Piecewise):
            if any(c.has(base) for _, c in e.args):
                raise UnsupportedError(f"a condition of {e} depends on {base}")
            return sympy.Piecewise(*[(d(v), c) for v, c in e.args])
        if isinstance(e, sympy.Pow) and e.exp.is_Integer and not e.exp.has(base):
            return e.exp * e.base ** (e.exp - 1) * d(e.base)
        if isinstance(e, sympy.Indexed):
            return sympy.Integer(0)
        raise UnsupportedError(f"cannot differentiate {e} termwise")

    if nodes:
        outside = expr.xreplace({n_: sympy.Dummy("derivative") for n_ in nodes})
        if outside.has(base):
            raise UnsupportedError(f"{base} occurs outside the derivatives in {expr}")
        after = expr.xreplace({n_: d(n_.expr) for n_ in nodes})
        surrogate = expr.xreplace({n_: n_.expr for n_ in nodes})
    else:
        after = d(expr)
        surrogate = expr
    h = sympy.Dummy("h", integer=True, positive=True)

    def bump(e: sympy.Indexed) -> Any:
        return e + h * sympy.Mul(*[sympy.KroneckerDelta(b, a)
                                   for a, b in zip(wrt.indices, e.indices)])
    moved = surrogate.replace(lambda q: isinstance(q, sympy.Indexed) and q.base == base, bump)
    ts = ["t"] if len(wrt.indices) == 1 else [f"t_{k + 1}" for k in range(len(wrt.indices))]
    deltas = "*".join(f"KroneckerDelta({t}, {_src(a)})" for t, a in zip(ts, wrt.indices))
    conditions = [(f"the limits of every sum are free of {base}",
                   f"the limits of every sum are free of ${base}$"),
                  (f"d {base}[t]/d {wrt} = KroneckerDelta(t, {', '.join(map(str, wrt.indices))})"
                   " (the entries are independent variables)",
                   f"$Derivative({base}[{', '.join(ts)}], {_src(wrt)}) = {deltas}$ (the entries "
                   "are independent variables)")]
    return _conclude("termwise differentiation", expr, after, conditions, ranges,
                     check_before=sympy.expand(moved - surrogate), check_after=h * after,
                     limits=limits)


def merge_sums(expr: Any, ranges: Ranges | None = None, *,
               limits: "SearchLimits | None" = None) -> Rewrite:
    """Move factors into the sums they multiply, nesting into one multi-limit ``Sum``.

    ``c * Sum(f, L)`` becomes ``Sum(c*f, L)`` when ``c`` is free of the variables bound by
    ``L`` (linearity).  Applied bottom-up until nothing changes.

    >>> g, w = sympy.IndexedBase("g"), sympy.IndexedBase("w")
    >>> i, u, K, O = sympy.symbols("i u K O", integer=True, positive=True)
    >>> merge_sums(sympy.Sum(g[i] * sympy.Sum(w[u], (u, 0, K - 1)), (i, 0, O - 1))).after
    Sum(g[i]*w[u], (u, 0, K - 1), (i, 0, O - 1))
    """
    def merge(e: Any) -> Any:
        if not isinstance(e, sympy.Basic) or not e.args:
            return e
        e = e.func(*[merge(a) for a in e.args]) if not isinstance(e, sympy.Sum) else \
            sympy.Sum(merge(e.function), *e.limits)
        if isinstance(e, sympy.Sum) and isinstance(e.function, sympy.Sum):
            inner = e.function
            return sympy.Sum(inner.function, *(inner.limits + e.limits))
        if isinstance(e, sympy.Sum) and isinstance(e.function, sympy.Mul):
            sums = [f for f in e.function.args if isinstance(f, sympy.Sum)]
            if len(sums) == 1:
                inner = sums[0]
                rest = sympy.Mul(*[f for f in e.function.args if f is not inner])
                if not (rest.free_symbols & set(inner.variables)):
                    return sympy.Sum(rest * inner.function, *(inner.limits + e.limits))
        if isinstance(e, sympy.Mul):
            sums = [f for f in e.args if isinstance(f, sympy.Sum)]
            if len(sums) == 1:
                inner = sums[0]
                rest = sympy.Mul(*[f for f in e.args if f is not inner])
                if not (rest.free_symbols & set(inner.variables)):
                    return sympy.Sum(rest * inner.function, *inner.limits)
        return e

    after = merge(expr)
    return _conclude("linearity of finite sums", expr, after,
                     ["each factor moved inside a sum is free of the sum's variables"], ranges,
                     limits=limits)


def eliminate_delta(expr: Any, var: sympy.Symbol, ranges: Ranges | None = None, *,
                    partner: Any = None, limits: "SearchLimits | None" = None) -> Rewrite:
    """Sum out ``var`` against a ``KroneckerDelta`` factor.

    In ``Sum(f * KroneckerDelta(A, B), (var, lo, hi), ...)`` with ``A - B = c*var + r``
    and ``c != 0``, only ``var = -r/c`` contributes, and only when it is an integer in
    ``lo..hi``.  The result is ``Piecewise((f(-r/c), |c| divides r and in range), (0, True))``
    summed over the remaining limits.  Side conditions: ``c`` nonzero with known sign and
    integer, ``r`` integer, the range genuine, the other limits free of ``var``.

    >>> g = sympy.IndexedBase("g")
    >>> i = sympy.Symbol("i", integer=True, nonnegative=True)
    >>> a = sympy.Symbol("a", integer=True, nonnegative=True)
    >>> S, O = sympy.symbols("S O", integer=True, positive=True)
    >>> eliminate_delta(sympy.Sum(g[i] * sympy.KroneckerDelta(a, S*i), (i, 0, O - 1)), i).after
    Piecewise((g[a/S], Eq(Mod(a, S), 0) & (a <= S*(O - 1))), (0, True))
    """
    target = _find_sum(expr, var)
    sum_limits = list(target.limits)
    k = [lim[0] for lim in sum_limits].index(var)
    _, lo, hi = sum_limits[k]
    others = sum_limits[:k] + sum_limits[k + 1:]
    for lim in others:
        if lim[1].has(var) or lim[2].has(var):
            raise UnsupportedError(f"the limits {lim} depend on {var}")
    summand = canonical_conditions(target.function)
    outer_cond: Any = sympy.true
    if isinstance(summand, sympy.Piecewise) and len(summand.args) == 2 \
            and summand.args[1] == (0, True) and not summand.args[0][1].has(var):
        summand, outer_cond = summand.args[0]      # [cond] * F with cond free of var
    factors = sympy.Mul.make_args(summand)
    delta = None
    c = r = None
    for f in factors:
        if partner is not None and not f.has(partner):
            continue
        if isinstance(f, sympy.KroneckerDelta) and f.has(var):
            lin = linear_coefficient(f.args[0] - f.args[1], var)
            if lin is not None and lin[0] != 0:
                delta, (c, r) = f, lin
                break
    if delta is None:
        raise UnsupportedError(
            f"no KroneckerDelta factor linear in {var}"
            f"{'' if partner is None else f' involving {partner}'} in the summand "
            f"{target.function}")
    sign = _known_sign(c)
    if sign == 0 or c.is_integer is not True:
        raise UnsupportedError(f"cannot tell that the coefficient {c} of {var} is a nonzero "
                               "integer of known sign")
    if r.is_integer is not True:
        raise UnsupportedError(f"cannot tell that {r} is an integer")
    conditions: list[Words] = [
        (f"the argument of {delta} is linear in {var} with coefficient {c} != 0, "
         f"so at most one term survives",
         f"the argument of {_m(delta)} is linear in {_m(var)} with coefficient "
         f"${_src(c)} != 0$, so at most one term survives")]
    conditions.append(_genuine_range(lo, hi))
    if others:
        conditions.append(f"the other limits do not depend on {_m(var)}")
    num = sympy.expand(-r * sign)
    den = sympy.expand(c * sign)
    value = num / den
    guard = []
    if den != 1:
        guard.append(sympy.Eq(sympy.Mod(num, den), 0))
        conditions.append((f"{var} = ({num})/{den} must be an integer: {den} divides {num}",
                           f"${var} = ({_src(num)})/{_src(den)}$ must be an integer: "
                           f"{_m(den)} divides {_m(num)}"))
    guard += [sympy.Le(den * lo, num), sympy.Le(num, den * hi)]
    conditions.append((f"{var} = {value} must lie in {lo}..{hi}",
                       f"${var} = {_src(value)}$ must satisfy "
                       f"${_src(lo)} <= {_src(value)} <= {_src(hi)}$"))
    rest = sympy.Mul(*[f for f in factors if f is not delta]).xreplace({var: value})
    if outer_cond is not sympy.true:
        conditions.append((f"the condition {outer_cond} does not involve {var} and is kept",
                           f"the condition {_m(outer_cond)} does not involve {_m(var)} and "
                           "is kept"))
    piece = sympy.Piecewise((rest, sympy.And(outer_cond, *guard)), (0, True))
    new = sympy.Sum(piece, *others) if others else piece
    after = expr.xreplace({target: new})
    return _conclude((f"KroneckerDelta eliminated over {var}",
                      f"Kronecker delta eliminated over {_m(var)}"), expr, after, conditions,
                     ranges, limits=limits)


def reindex(expr: Any, var: sympy.Symbol, image: Any, new_var: sympy.Symbol,
            ranges: Ranges | None = None, *, limits: "SearchLimits | None" = None) -> Rewrite:
    """Substitute ``var = image(new_var)`` in the one sum over ``var``.

    ``image`` must be ``+-new_var + b``: an affine map with unit coefficient is injective on
    the integers and maps the new range onto the old one; both endpoints are checked.

    >>> w = sympy.IndexedBase("w")
    >>> u, v = sympy.symbols("u v", integer=True, nonnegative=True)
    >>> K = sympy.Symbol("K", integer=True, positive=True)
    >>> reindex(sympy.Sum(w[u], (u, 0, K - 1)), u, K - 1 - v, v).after
    Sum(w[K - v - 1], (v, 0, K - 1))
    """
    target = _find_sum(expr, var)
    sum_limits = list(target.limits)
    k = [lim[0] for lim in sum_limits].index(var)
    _, lo, hi = sum_limits[k]
    for lim in sum_limits[:k] + sum_limits[k + 1:]:
        if lim[1].has(var) or lim[2].has(var):
            raise UnsupportedError(f"the limits {lim} depend on {var}")
    if new_var != var and target.function.has(new_var):
        raise UnsupportedError(f"{new_var} already occurs in {target.function}")
    lin = linear_coefficient(image, new_var)
    if lin is None or lin[0] not in (1, -1):
        raise UnsupportedError(f"{var} = {image} is not +-{new_var} + constant; only unit "
                               "coefficients give a bijection of integer ranges")
    coef, b = lin
    if coef == 1:
        new_lo, new_hi = sympy.expand(lo - b), sympy.expand(hi - b)
        ends = ((new_lo, lo), (new_hi, hi))
    else:
        new_lo, new_hi = sympy.expand(b - hi), sympy.expand(b - lo)
        ends = ((new_lo, hi), (new_hi, lo))
    for at, want in ends:
        if sympy.expand(image.xreplace({new_var: at}) - want) != 0:  # pragma: no cover
            raise UnsupportedError(f"endpoint check failed: {image} at {new_var} = {at}")
    conditions = [
        (f"{var} = {image} has coefficient {coef} in {new_var}: injective on the integers",
         f"${var} = {_src(image)}$ has coefficient {_m(coef)} in {_m(new_var)}: injective on "
         "the integers"),
        (f"it maps {new_var} = {new_lo}..{new_hi} onto {var} = {lo}..{hi} "
         f"(endpoints: {ends[0][0]} -> {ends[0][1]}, {ends[1][0]} -> {ends[1][1]})",
         f"it maps ${_src(new_lo)} <= {new_var} <= {_src(new_hi)}$ onto "
         f"${_src(lo)} <= {var} <= {_src(hi)}$ (endpoints: {_m(ends[0][0])} goes to "
         f"{_m(ends[0][1])}, {_m(ends[1][0])} to {_m(ends[1][1])})")]
    new_limits = sum_limits[:k] + [(new_var, new_lo, new_hi)] + sum_limits[k + 1:]
    new = sympy.Sum(target.function.xreplace({var: image}), *new_limits)
    after = expr.xreplace({target: new})
    return _conclude((f"re-indexing {var} = {image}", f"re-indexing ${var} = {_src(image)}$"),
                     expr, after, conditions, ranges, limits=limits)


def intersect_bounds(expr: Any, var: sympy.Symbol, ranges: Ranges | None = None, *,
                     limits: "SearchLimits | None" = None) -> Rewrite:
    """Turn a ``Piecewise`` condition linear in ``var`` into narrower summation limits.

    ``Sum(Piecewise((f, cond), (0, True)), (var, lo, hi))`` becomes
    ``Piecewise((Sum(f, (var, max(lo, ...), min(hi, ...))), rest and nonempty), (0, True))``:
    for integer ``var`` and ``c > 0``, ``c*var + r >= L`` iff ``var >= ceiling((L - r)/c)``.
    ``var`` must be the innermost summation variable.

    >>> x = sympy.IndexedBase("x")
    >>> u = sympy.Symbol("u", integer=True, nonnegative=True)
    >>> i = sympy.Symbol("i", integer=True, nonnegative=True)
    >>> K, n = sympy.symbols("K n", integer=True, positive=True)
    >>> e = sympy.Sum(sympy.Piecewise((x[i + u], i + u <= n - 1), (0, True)), (u, 0, K - 1))
    >>> intersect_bounds(e, u).after
    Piecewise((Sum(x[i + u], (u, 0, Min(K - 1, -i + n - 1))), Min(K - 1, -i + n - 1) >= 0), (0, True))
    """
    target = _find_sum(expr, var)
    sum_limits = list(target.limits)
    if sum_limits[0][0] != var:
        raise UnsupportedError(f"{var} must be the innermost summation variable of {target}")
    _, lo, hi = sum_limits[0]
    factors = sympy.Mul.make_args(target.function)
    pieces = [f for f in factors if isinstance(f, sympy.Piecewise)]
    if len(pieces) != 1:
        raise UnsupportedError(f"expected one Piecewise factor in {target.function}")
    pw = pieces[0]
    if len(pw.args) != 2 or pw.args[1] != (0, True):
        raise UnsupportedError(f"expected Piecewise((f, condition), (0, True)), got {pw}")
    value, cond = pw.args[0]
    rest = sympy.Mul(*[f for f in factors if f is not pw])
    lowers, uppers, outer = [lo], [hi], []
    conditions: list[Words] = [_genuine_range(lo, hi)]
    for atom in _atoms_of(cond):
        if not atom.has(var):
            outer.append(atom)
            continue
        nonneg = _as_nonneg(atom)
        lin = None if nonneg is None else linear_coefficient(nonneg, var)
        if lin is None or _known_sign(lin[0]) == 0 or lin[1].is_integer is not True \
                or lin[0].is_integer is not True:
            raise UnsupportedError(f"condition {atom} is not a linear inequality in {var} "
                                   "with integer data and a coefficient of known sign")
        c, r = lin                                   # c*var + r >= 0
        if _known_sign(c) > 0:
            bound = sympy.ceiling(-r / c)
            lowers.append(bound)
        else:
            bound = sympy.floor(-r / c)
            uppers.append(bound)
        op, sign = (">=", ">") if _known_sign(c) > 0 else ("<=", "<")
        conditions.append((f"{atom} iff {var} {op} {bound} ({var} integer, coefficient {c} "
                           f"{sign} 0)",
                           f"{_m(atom)} if and only if ${var} {op} {_src(bound)}$ ({_m(var)} "
                           f"an integer, coefficient ${_src(c)} {sign} 0$)"))
    new_lo, new_hi = sympy.Max(*lowers), sympy.Min(*uppers)
    inner = sympy.Sum(rest * value, (var, new_lo, new_hi))
    guard = sympy.And(*outer, sympy.Le(new_lo, new_hi))
    new: Any = sympy.Piecewise((inner, guard), (0, True))
    if len(sum_limits) > 1:
        new = sympy.Sum(new, *sum_limits[1:])
    conditions.append("an empty intersection gives 0 (guarded, so Karr's convention for "
                      "reversed limits never applies)")
    after = expr.xreplace({target: new})
    return _conclude((f"bounds of {var} intersected with the condition",
                      f"bounds of {_m(var)} intersected with the condition"), expr, after,
                     conditions, ranges, limits=limits)


def _implied(atom: Any, ranges: Mapping[sympy.Symbol, tuple[Any, Any]]
             ) -> tuple[str, str] | None:
    """A reason why ``atom`` holds for every index in ``ranges`` (plain and for a page),
    or None."""
    if atom is sympy.true:
        return "trivially true", "trivially true"
    nonneg = _as_nonneg(atom)
    if nonneg is None:
        return None
    e = sympy.expand(nonneg)
    picks: list[tuple[Any, Any]] = []
    for s in sorted(e.free_symbols & set(ranges), key=lambda q: q.name):
        lin = linear_coefficient(e, s)
        if lin is None:
            return None
        c, _ = lin
        lo, hi = ranges[s]
        if _known_sign(c) > 0:
            e = sympy.expand(e.xreplace({s: lo}))
            picks.append((s, lo))
        elif _known_sign(c) < 0:
            e = sympy.expand(e.xreplace({s: hi}))
            picks.append((s, hi))
        elif c != 0:
            return None
    if e.is_nonnegative is True:
        where = (f" at the worst endpoint {', '.join(f'{q} = {v}' for q, v in picks)}"
                 if picks else "")
        shown = (" at the worst endpoint " + ", ".join(f"${q} = {_src(v)}$" for q, v in picks)
                 if picks else "")
        return (f"{atom} holds: {nonneg} >= 0{where} (linear in the indices)",
                f"{_m(atom)} holds: ${_src(nonneg)} >= 0${shown} (linear in the indices)")
    return None


def drop_implied(expr: Any, ranges: Ranges, *, limits: "SearchLimits | None" = None) -> Rewrite:
    """Replace ``Piecewise((f, cond), (0, True))`` by ``f`` where ``cond`` holds on the
    whole index range.

    Ranges of summation variables enclosing the ``Piecewise`` are used too (their ranges
    must be genuine).  Each condition is linear in each index, so its minimum over a box is
    at an endpoint; SymPy's sign assumptions on the remaining symbols finish the argument.

    >>> x = sympy.IndexedBase("x")
    >>> m = sympy.Symbol("m", integer=True, nonnegative=True)
    >>> n = sympy.Symbol("n", integer=True, positive=True)
    >>> P = sympy.Symbol("P", integer=True, nonnegative=True)
    >>> drop_implied(sympy.Piecewise((x[m], (m + P >= P) & (m <= n - 1)), (0, True)),
    ...              {m: (0, n - 1)}).after
    x[m]
    """
    conditions: list[Words] = []
    known = dict(ranges)

    def walk(e: Any, env: dict) -> Any:
        if not isinstance(e, sympy.Basic) or not e.args:
            return e
        if isinstance(e, sympy.Sum):
            inner_env = dict(env)
            for v, lo, hi in e.limits:
                _genuine_range(lo, hi)
                inner_env[v] = (lo, hi)
            return sympy.Sum(walk(e.function, inner_env), *e.limits)
        if isinstance(e, sympy.Piecewise) and len(e.args) == 2 and e.args[1] == (0, True):
            value, cond = e.args[0]
            reasons = [_implied(a, env) for a in _atoms_of(cond)]
            if all(reasons):
                conditions.extend(r for r in reasons if r)
                return walk(value, env)
        return e.func(*[walk(a, env) for a in e.args])

    after = walk(expr, known)
    if after == expr:
        raise UnsupportedError(f"no condition of {expr} could be shown to hold on the ranges")
    return _conclude("conditions implied by the index ranges dropped", expr, after,
                     conditions, ranges, limits=limits)


def substitute(expr: Any, definitions: Mapping[Any, Any], name: Words,
               ranges: Ranges | None = None) -> Rewrite:
    """Replace each key of ``definitions`` (an array entry pattern or a symbol) by its
    definition.  A callable value is applied to the indices of each matching entry;
    ``name`` (:data:`Words`) says which definition.

    >>> xp, x = sympy.IndexedBase("x_pad"), sympy.IndexedBase("x")
    >>> t = sympy.Symbol("t", integer=True)
    >>> substitute(xp[t + 1], {xp: lambda q: x[q - 1]}, "definition of x_pad").after
    x[t]
    """
    def apply(e: Any) -> Any:
        out = e
        for key, value in definitions.items():
            if isinstance(key, sympy.IndexedBase):
                out = out.replace(lambda q, key=key: isinstance(q, sympy.Indexed)
                                  and q.base == key,
                                  lambda q, value=value: value(*q.indices))
            else:
                out = out.xreplace({key: value})
        return out

    after = apply(expr)
    plain, shown = _plain_and_shown(name)
    return Rewrite(plain, expr, after, (),
                   Verdict(Status.PROVED, f"definition: {plain}", instances=0), shown)


def _canonical_atom(atom: Any) -> Any:
    nonneg = _as_nonneg(atom)
    if nonneg is not None:
        return sympy.Ge(nonneg, 0)
    if isinstance(atom, sympy.Eq):
        return sympy.Eq(sympy.expand(atom.lhs - atom.rhs), 0)
    return atom


def canonical_conditions(expr: Any) -> Any:
    """Every inequality in a ``Piecewise`` condition written as ``e >= 0`` (``e`` expanded;
    integer data, so ``a < b`` is ``b - a - 1 >= 0``) and every equation as ``e == 0``;
    a factor multiplying ``Piecewise((v, cond), (0, True))`` moved inside it.

    >>> a, P = sympy.symbols("a P", integer=True)
    >>> canonical_conditions(sympy.Piecewise((1, (P <= a) & (a < 5)), (0, True)))
    Piecewise((1, (a <= 4) & (P - a <= 0)), (0, True))
    """
    def walk(e: Any) -> Any:
        if not isinstance(e, sympy.Basic) or not e.args:
            return e
        if isinstance(e, sympy.Piecewise):
            return sympy.Piecewise(*[
                (walk(v), c if c is sympy.true else
                 sympy.And(*[_canonical_atom(a) for a in _atoms_of(c)]))
                for v, c in e.args])
        if isinstance(e, sympy.Sum):
            return sympy.Sum(walk(e.function), *e.limits)
        if isinstance(e, sympy.Mul):
            pieces = [f for f in e.args if isinstance(f, sympy.Piecewise)
                      and len(f.args) == 2 and f.args[1] == (0, True)]
            if len(pieces) == 1:          # c * Piecewise((v, cond), (0, True))
                rest = sympy.Mul(*[f for f in e.args if f is not pieces[0]])
                value, cond = pieces[0].args[0]
                return walk(sympy.Piecewise((rest * value, cond), (0, True)))
        return e.func(*[walk(a) for a in e.args])
    return walk(expr)


def normalize_conditions(expr: Any, ranges: Ranges | None = None, *,
                         limits: "SearchLimits | None" = None) -> Rewrite:
    """Rewrite every condition with :func:`canonical_conditions` (moving terms across an
    inequality; for integers ``a < b`` iff ``a <= b - 1``)."""
    after = canonical_conditions(expr)
    return _conclude("conditions rewritten with all terms on one side", expr, after,
                     [("a <= b iff b - a >= 0; for integers a < b iff b - a - 1 >= 0",
                       "$a <= b$ if and only if $b - a >= 0$; for integers $a < b$ if and only "
                       "if $b - a - 1 >= 0$"),
                      ("c * Piecewise((v, cond), (0, True)) = Piecewise((c*v, cond), (0, True))",
                       "a factor $c$ of a value kept only where a condition holds moves "
                       "inside: $c*v$ where it holds, $0$ elsewhere")],
                     ranges, limits=limits)


# --------------------------------------------------------------------------- chains

@dataclass(frozen=True)
class CheckedChain:
    """A derivation ``lhs = start = r1.after = r2.after = ...``, each step a :class:`Rewrite`.

    ``steps`` are ``(expr, why)`` pairs ready for display (``why`` is prose with its maths
    between dollar signs, as on a page; :meth:`explain` prints it plain); ``verdicts[k]``
    backs step ``k + 1`` (the first line is the starting point).  ``definitions`` are
    ``(Eq, words)`` pairs for the names used in the words (they are not claims).
    """

    lhs: Any
    start: Any
    start_why: str
    rewrites: tuple[Rewrite, ...]
    definitions: tuple[tuple[Any, str], ...] = ()
    notes: tuple[str, ...] = ()
    ranges: tuple[tuple[Any, Any, Any], ...] = ()    # (index, lowest, highest) of free indices

    @property
    def result(self) -> Any:
        return self.rewrites[-1].after if self.rewrites else self.start

    @property
    def steps(self) -> list[tuple[Any, str]]:
        out = [(self.start, self.start_why)]
        for k, r in enumerate(self.rewrites):
            note = self.notes[k] if k < len(self.notes) and self.notes[k] else ""
            out.append((r.after, r.why() + (f". {note}" if note else "")))
        return out

    @property
    def verdicts(self) -> list[Verdict]:
        return [r.verdict for r in self.rewrites]

    @property
    def status(self) -> Status:
        return chain_status(self.rewrites)

    @property
    def proved(self) -> bool:
        return self.status is Status.PROVED

    def range_assumptions(self) -> tuple[str, ...]:
        """The free indices' ranges as assumptions in the claim language: the rules'
        side conditions use them, so a reader (or a re-check) must have them too.

        >>> i, n = sympy.symbols("i n", integer=True)
        >>> CheckedChain("f", i, "", (), ranges=((i, 0, n - 1),)).range_assumptions()
        ('0 <= i <= n - 1',)
        """
        return tuple(f"{lo} <= {var} <= {hi}" for var, lo, hi in self.ranges)

    def to_book(self, label: str = "", assumptions: Sequence[str] = ()) -> Any:
        """The chain as a :class:`derive.book.model.Derivation` with these verdicts, under
        the free indices' ranges and ``assumptions``."""
        from derive.book.model import Derivation, DerivationStep
        steps = self.steps
        out = [DerivationStep(steps[0][0], steps[0][1], None)]
        out += [DerivationStep(e, why, v) for (e, why), v in zip(steps[1:], self.verdicts)]
        return Derivation(self.lhs, tuple(out), self.range_assumptions() + tuple(assumptions),
                          label)

    def explain(self) -> str:
        """Plain-text listing: one line per step with its status."""
        lines = [f"{self.lhs} : {self.status.value}"]
        for k, (e, why) in enumerate(self.steps):
            mark = "  " if k == 0 else {Status.PROVED: "ok", Status.TESTED: "~ ",
                                        Status.REFUTED: "XX", Status.UNKNOWN: "? ",
                                        Status.ERROR: "!!"}[self.verdicts[k - 1].status]
            lines.append(f"{mark} = {e}")
            lines.append(f"      [{_unmath(why)}]")
        return "\n".join(lines)


class ChainBuilder:
    """Apply rules one after another to the current expression.

    >>> g, w = sympy.IndexedBase("g"), sympy.IndexedBase("w")
    >>> i, u = sympy.symbols("i u", integer=True, nonnegative=True)
    >>> a = sympy.Symbol("a", integer=True, nonnegative=True)
    >>> K, O = sympy.symbols("K O", integer=True, positive=True)
    >>> b = ChainBuilder("dL/da", sympy.Sum(g[i] * w[u] * sympy.KroneckerDelta(a, i + u),
    ...                  (u, 0, K - 1), (i, 0, O - 1)), "start", {a: (0, K + O - 2)})
    >>> chain = b.eliminate(i).build()
    >>> chain.proved, chain.result
    (True, Sum(Piecewise((g[a - u]*w[u], (a - u >= 0) & (O >= a - u + 1)), (0, True)), (u, 0, K - 1)))
    """

    def __init__(self, lhs: Any, start: Any, why: str, ranges: Ranges | None = None, *,
                 limits: "SearchLimits | None" = None) -> None:
        self.lhs = lhs
        self.start = start
        self.why = why
        self.ranges = dict(ranges or {})
        self.limits = limits
        self.rewrites: list[Rewrite] = []
        self.notes: list[str] = []
        self.definitions: list[tuple[Any, str]] = []
        self._pending: tuple[Rewrite, str] | None = None

    @property
    def current(self) -> Any:
        if self._pending is not None:
            return self._pending[0].after
        return self.rewrites[-1].after if self.rewrites else self.start

    def _push(self, r: Rewrite, note: str) -> "ChainBuilder":
        """Append a rewrite.  A line that prints the same as the line before it shows a
        reader nothing, so such a rewrite is merged: dropped when it changed nothing, else
        composed with the rewrite before it (which keeps its words; the verdict is the
        weaker of the two) or, as the chain's first, with the rewrite after it."""
        if self._pending is not None:
            first, first_note = self._pending
            self._pending = None
            r, note = _compose(first, r, words=r), _join_notes(first_note, note)
        if not _prints_same(r.before, r.after):
            self.rewrites.append(r)
            self.notes.append(note)
        elif r.after == r.before or self.rewrites:
            if r.after != r.before:
                self.rewrites[-1] = _compose(self.rewrites[-1], r, words=self.rewrites[-1])
            if self.notes:
                self.notes[-1] = _join_notes(self.notes[-1], note)
            else:
                self.why = _join_notes(self.why, note)
        else:
            self._pending = (r, note)
        return self

    def differentiate(self, wrt: Any = None, note: str = "") -> "ChainBuilder":
        return self._push(differentiate(self.current, wrt, self.ranges, limits=self.limits), note)

    def merge(self, note: str = "") -> "ChainBuilder":
        return self._push(merge_sums(self.current, self.ranges, limits=self.limits), note)

    def eliminate(self, var: Any, partner: Any = None, note: str = "") -> "ChainBuilder":
        return self._push(eliminate_delta(self.current, var, self.ranges, partner=partner,
                                          limits=self.limits), note)

    def reindex(self, var: Any, image: Any, new_var: Any, note: str = "") -> "ChainBuilder":
        return self._push(reindex(self.current, var, image, new_var, self.ranges,
                                  limits=self.limits), note)

    def intersect(self, var: Any, note: str = "") -> "ChainBuilder":
        return self._push(intersect_bounds(self.current, var, self.ranges, limits=self.limits),
                          note)

    def drop(self, note: str = "") -> "ChainBuilder":
        return self._push(drop_implied(self.current, self.ranges, limits=self.limits), note)

    def normalize(self, note: str = "") -> "ChainBuilder":
        return self._push(normalize_conditions(self.current, self.ranges, limits=self.limits),
                          note)

    def substitute(self, definitions: Mapping[Any, Any], name: str,
                   note: str = "") -> "ChainBuilder":
        return self._push(substitute(self.current, definitions, name, self.ranges), note)

    def define(self, eq: Any, words: str) -> "ChainBuilder":
        self.definitions.append((eq, words))
        return self

    def build(self) -> CheckedChain:
        if self._pending is not None:   # nothing came to merge with: the line stays
            r, note = self._pending
            self._pending = None
            self.rewrites.append(r)
            self.notes.append(note)
        ranges = tuple((v, lo, hi) for v, (lo, hi) in self.ranges.items())
        return CheckedChain(self.lhs, self.start, self.why, tuple(self.rewrites),
                            tuple(self.definitions), tuple(self.notes), ranges)


def _prints_same(a: Any, b: Any) -> bool:
    """Whether two lines of a derivation print the same on a page."""
    if a == b:
        return True
    from derive.render.latex import value_tex
    return value_tex(a) == value_tex(b)


def _join_notes(a: str, b: str) -> str:
    return "; ".join(n for n in (a, b) if n)


def _compose(first: Rewrite, second: Rewrite, *, words: Rewrite) -> Rewrite:
    """``first`` then ``second`` as one rewrite, said with the rule and conditions of
    ``words``; its verdict holds for the pair only as far as both verdicts hold (the
    weaker status; a failing verdict is kept as it is, with its counterexample)."""
    from derive.check.verdict import weakest
    a, b = first.verdict, second.verdict
    status = weakest([a.status, b.status])
    if status in (Status.PROVED, Status.TESTED):
        verdict = Verdict(status, f"{a.method}; then {b.method}",
                          claim="; ".join(c for c in (a.claim, b.claim) if c),
                          instances=a.instances + b.instances, lemmas=a.lemmas + b.lemmas)
    else:
        verdict = a if a.status is status else b
    return Rewrite(words.rule, first.before, second.after, words.conditions, verdict,
                   words.shown_rule, words.shown_conditions)


def meet(forward: CheckedChain, backward: CheckedChain, lhs: Any = None) -> CheckedChain:
    """Join two chains that end in the same expression: ``forward``'s steps, then
    ``backward``'s steps read from its end back to its start.

    Raises :class:`~derive.errors.UnsupportedError` when the two results differ.
    """
    if forward.result != backward.result:
        raise UnsupportedError(
            f"the chains do not meet: {forward.result} vs {backward.result}")
    rewrites = list(forward.rewrites)
    notes = list(forward.notes) + [""] * (len(forward.rewrites) - len(forward.notes))
    for k in range(len(backward.rewrites) - 1, -1, -1):
        r = backward.rewrites[k]
        rewrites.append(Rewrite(r.rule + " (in reverse)", r.after, r.before, r.conditions,
                                r.verdict, (r.shown_rule or r.rule) + " (in reverse)",
                                r.shown_conditions))
        notes.append(backward.notes[k] if k < len(backward.notes) else "")
    # the last backward step lands on the backward chain's start
    return CheckedChain(forward.lhs if lhs is None else lhs, forward.start, forward.start_why,
                        tuple(rewrites), forward.definitions + backward.definitions,
                        tuple(notes), forward.ranges + tuple(
                            r for r in backward.ranges if r[0] not in
                            {f[0] for f in forward.ranges}))


def chain_status(rewrites: Iterable[Rewrite]) -> Status:
    """The weakest status of several rewrites (``PROVED`` for none)."""
    from derive.check.verdict import weakest
    return weakest(r.verdict.status for r in rewrites)
