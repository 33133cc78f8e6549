"""The checked re-indexing rules of derive.check.reindex, against brute-force evaluation."""

from __future__ import annotations

import functools

import pytest
import sympy
from hypothesis import example, given, settings
from hypothesis import strategies as st

from derive.check.reindex import (
    ChainBuilder, Rewrite, canonical_conditions, cross_check, differentiate, drop_implied,
    eliminate_delta, intersect_bounds, linear_coefficient, meet, merge_sums, reindex,
)
from derive.check.verdict import Status
from derive.errors import UnsupportedError

i, u, v, a, m = (sympy.Symbol(n, integer=True, nonnegative=True) for n in "iuvam")
K, O, S, D, n = (sympy.Symbol(n, integer=True, positive=True) for n in ("K", "O", "S", "D", "n"))
P = sympy.Symbol("P", integer=True, nonnegative=True)
g, w, x = sympy.IndexedBase("g"), sympy.IndexedBase("w"), sympy.IndexedBase("x")


def concrete(expr, values, arrays):
    """Evaluate by SymPy substitution and summation (independent of the checker's
    evaluator): sizes substituted, sums expanded, array entries looked up in dicts."""
    e = expr.xreplace({s: sympy.Integer(values[s.name]) for s in expr.free_symbols
                       if s.name in values})
    e = e.doit()
    return e.xreplace({ref: arrays[ref.base.label.name].get(tuple(int(t) for t in ref.indices),
                                                            0)
                       if all(t.is_Integer for t in ref.indices) else sympy.nan
                       for ref in e.atoms(sympy.Indexed)})


@functools.lru_cache(maxsize=None)
def _strided_delta() -> Rewrite:
    expr = sympy.Sum(g[i] * sympy.KroneckerDelta(a, S * i + P), (i, 0, O - 1))
    return eliminate_delta(expr, i)


@functools.lru_cache(maxsize=None)
def _flip_and_narrow() -> tuple:
    expr = sympy.Sum(w[u] * sympy.Piecewise((x[i + u], (i + u >= 2) & (i + u <= n - 1)),
                                            (0, True)), (u, 0, K - 1))
    return expr, reindex(expr, u, K - 1 - v, v), intersect_bounds(expr, u)


@given(st.integers(1, 4), st.integers(0, 5), st.integers(1, 6), st.integers(0, 14),
       st.integers(0, 2 ** 32 - 1))
@example(2, 1, 3, 4, 0)
@settings(max_examples=60, deadline=None)
def test_delta_elimination_against_brute_force(s, c, out, pos, seed) -> None:
    """Sum_i g[i] [pos = s*i + c] over i < out, with the stride coefficient s."""
    import random
    rng = random.Random(seed)
    garr = {(t,): rng.randint(-9, 9) for t in range(out)}
    r = _strided_delta()
    assert r.proved
    brute = sum(garr[(t,)] for t in range(out) if pos == s * t + c)
    got = concrete(r.after, {"S": s, "P": c, "O": out, "a": pos}, {"g": garr})
    assert got == brute


def test_delta_elimination_keeps_the_divisibility_condition() -> None:
    r = eliminate_delta(sympy.Sum(w[u] * sympy.KroneckerDelta(a, D * u), (u, 0, K - 1)), u)
    assert r.after.has(sympy.Mod)
    assert concrete(r.after, {"D": 2, "K": 3, "a": 1}, {"w": {(0,): 5, (1,): 7, (2,): 9}}) == 0
    assert concrete(r.after, {"D": 2, "K": 3, "a": 4}, {"w": {(0,): 5, (1,): 7, (2,): 9}}) == 9
    assert any("divides" in c for c in r.conditions)


def test_rules_refuse_what_they_cannot_establish() -> None:
    with pytest.raises(UnsupportedError, match="no KroneckerDelta factor linear"):
        eliminate_delta(sympy.Sum(w[u] * sympy.KroneckerDelta(a, u ** 2), (u, 0, K - 1)), u)
    with pytest.raises(UnsupportedError, match="genuine range|could be reversed"):
        eliminate_delta(sympy.Sum(w[u] * sympy.KroneckerDelta(a, u), (u, 0, K - 5)), u)
    with pytest.raises(UnsupportedError, match="known sign"):
        t = sympy.Symbol("t", integer=True)
        eliminate_delta(sympy.Sum(w[u] * sympy.KroneckerDelta(a, t * u), (u, 0, K - 1)), u)
    with pytest.raises(UnsupportedError, match="unit coefficients"):
        reindex(sympy.Sum(w[u], (u, 0, K - 1)), u, 2 * v, v)
    with pytest.raises(UnsupportedError, match="already occurs"):
        reindex(sympy.Sum(w[u] * x[v], (u, 0, K - 1)), u, K - 1 - v, v)
    with pytest.raises(UnsupportedError, match="could be shown"):
        drop_implied(sympy.Piecewise((x[m], m <= n - 2), (0, True)), {m: (0, n - 1)})
    with pytest.raises(UnsupportedError, match="innermost"):
        intersect_bounds(sympy.Sum(sympy.Piecewise((x[u + i], u <= n), (0, True)),
                                   (i, 0, O - 1), (u, 0, K - 1)), u)
    with pytest.raises(UnsupportedError, match="exactly one Sum"):
        eliminate_delta(w[u], u)


@given(st.integers(1, 5), st.integers(0, 6), st.integers(1, 6), st.integers(0, 2 ** 32 - 1))
@settings(max_examples=40, deadline=None)
def test_reindex_flip_and_intersection_against_brute_force(k, start, length, seed) -> None:
    import random
    rng = random.Random(seed)
    xarr = {(t,): rng.randint(-9, 9) for t in range(-20, 40)}
    warr = {(t,): rng.randint(-9, 9) for t in range(k)}
    expr, flipped, narrowed = _flip_and_narrow()
    assert flipped.proved and narrowed.proved
    values = {"K": k, "i": start, "n": length}
    brute = sum(warr[(t,)] * xarr[(start + t,)] for t in range(k)
                if 2 <= start + t <= length - 1)
    arrays = {"w": warr, "x": xarr}
    assert concrete(expr, values, arrays) == brute
    assert concrete(flipped.after, values, arrays) == brute
    assert concrete(narrowed.after, values, arrays) == brute


def test_cross_check_refutes_a_wrong_rewrite() -> None:
    right = sympy.Sum(w[K - 1 - v], (v, 0, K - 1))
    wrong = sympy.Sum(w[K - v], (v, 0, K - 1))       # off by one
    assert cross_check(sympy.Sum(w[u], (u, 0, K - 1)), right).status is Status.TESTED
    bad = cross_check(sympy.Sum(w[u], (u, 0, K - 1)), wrong)
    assert bad.refuted and bad.counterexample["K"] >= 1
    from derive.check.reindex import _conclude
    r = _conclude("a rule applied wrongly", sympy.Sum(w[u], (u, 0, K - 1)), wrong, [], None)
    assert r.verdict.refuted


def test_differentiate_merge_drop_and_meet() -> None:
    y = sympy.Sum(w[u] * x[S * i + u], (u, 0, K - 1))
    start = sympy.Sum(g[i] * sympy.Derivative(y, x[m]), (i, 0, O - 1))
    b = ChainBuilder(sympy.Symbol("dL/dx[m]"), start, "chain rule", {m: (0, n - 1)})
    chain = b.differentiate().merge().eliminate(i).build()
    assert chain.proved, chain.explain()
    assert chain.result.has(sympy.Mod)
    with pytest.raises(UnsupportedError, match="outside the derivatives"):
        differentiate(x[m] * sympy.Derivative(y, x[m]))
    with pytest.raises(UnsupportedError, match="one entry"):
        differentiate(sympy.Derivative(y, x[m]) + sympy.Derivative(y, x[m + 1]))
    merged = merge_sums(sympy.Sum(g[i] * sympy.Sum(w[u], (u, 0, K - 1)), (i, 0, O - 1)))
    assert merged.after == sympy.Sum(g[i] * w[u], (u, 0, K - 1), (i, 0, O - 1))
    dropped = drop_implied(sympy.Piecewise((x[m], (m + P >= P) & (m <= n - 1)), (0, True)),
                           {m: (0, n - 1)})
    assert dropped.after == x[m] and dropped.proved
    with pytest.raises(UnsupportedError, match="do not meet"):
        meet(chain, ChainBuilder("y", x[m], "x").build())


def test_linear_coefficient_and_canonical_conditions() -> None:
    assert linear_coefficient(S * i + 3 * D - i, i) == (S - 1, 3 * D)
    assert linear_coefficient(i ** 2, i) is None
    assert linear_coefficient(D, i) == (0, D)
    p1 = sympy.Piecewise((x[a - P], (P <= a) & (a <= n + P - 1)), (0, True))
    p2 = sympy.Piecewise((x[a - P], (a - P >= 0) & (a - P < n)), (0, True))
    assert canonical_conditions(p1) == canonical_conditions(p2)
    assert canonical_conditions(w[u] * p1) == canonical_conditions(
        sympy.Piecewise((w[u] * x[a - P], (P <= a) & (a <= n + P - 1)), (0, True)))


def test_rewrite_why_lists_the_side_conditions() -> None:
    r = reindex(sympy.Sum(w[u], (u, 0, K - 1)), u, K - 1 - v, v)
    assert isinstance(r, Rewrite)
    assert "injective" in r.why() and "endpoints" in r.why()
    assert r.verdict.lemmas == r.conditions


def test_rewrite_why_is_prose_and_the_method_plain_text() -> None:
    from derive.render.prose import prose_latex
    r = _strided_delta()
    assert "$" not in r.rule + r.verdict.method + "".join(r.conditions + r.verdict.lemmas)
    assert r.rule == "KroneckerDelta eliminated over i"
    assert "i = (-P + a)/S must lie in 0..O - 1" in r.conditions
    assert "$KroneckerDelta(a, P + S*i)$" in r.why()
    prose_latex(r.why())                     # every formula in it reads in the claim language


def test_a_line_that_prints_like_the_line_before_is_merged() -> None:
    # the derivative is already one sum: linearity changes nothing and is not shown
    start = sympy.Sum(g[i] * sympy.Derivative(x[i], x[m]), (i, 0, O - 1))
    b = ChainBuilder(sympy.Symbol("dL/dx[m]"), start, "chain rule", {m: (0, O - 1)})
    chain = b.differentiate(note="one").merge(note="two").eliminate(i).build()
    assert [r.rule for r in chain.rewrites] == ["termwise differentiation",
                                                 "KroneckerDelta eliminated over i"]
    assert chain.steps[1][1].endswith(". one; two") and chain.proved
    # a rule that changes nothing leaves no line; its note joins the opening line's words
    b = ChainBuilder("s", sympy.Sum(g[i], (i, 0, O - 1)), "start", {})
    chain = b.merge(note="first").reindex(i, O - 1 - u, u).build()
    assert [r.rule for r in chain.rewrites] == ["re-indexing i = O - u - 1"]
    assert chain.steps[0][1] == "start; first" and chain.proved
    # a first rewrite whose result only prints the same is composed with the next one
    same = sympy.Sum(g[sympy.Symbol("i")], (sympy.Symbol("i"), 0, O - 1))   # other assumptions
    b = ChainBuilder("s", sympy.Sum(g[i], (i, 0, O - 1)), "start", {})
    b._push(Rewrite("renaming", b.current, same, (), _strided_delta().verdict), "")
    chain = b.reindex(sympy.Symbol("i"), O - 1 - u, u).build()
    assert [r.rule for r in chain.rewrites] == ["re-indexing i = O - u - 1"]
    assert chain.rewrites[0].before == chain.start and chain.proved
    assert "; then " in chain.verdicts[0].method
