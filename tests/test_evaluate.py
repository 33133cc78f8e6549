"""The exact evaluator on derivatives of sums over arrays, against a direct computation.

A derivative is evaluated at a point by fixing the sizes, expanding the (now finite) sums
and differentiating exactly; the array entries are the instance's random draws.  The
reference here differentiates by hand: the loss ``sum_i g[i] * sum_u w[u] x[S i + D u]``
is linear in ``w``, so its derivative by ``w[m]`` is ``sum_i g[i] x[S i + D m]`` when
``0 <= m <= K - 1`` and zero otherwise.
"""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
import sympy
from hypothesis import given, settings, strategies as st

from derive.check.engine import check_exprs
from derive.check.evaluate import Declined, Instance, compile_expr
from derive.check.verdict import Status

g, w, x = sympy.IndexedBase("g"), sympy.IndexedBase("w"), sympy.IndexedBase("x")
i, u = sympy.symbols("i u", integer=True)
O, K, S, D, m = sympy.symbols("O K S D m", integer=True)
LOSS = sympy.Sum(g[i] * sympy.Sum(w[u] * x[S * i + D * u], (u, 0, K - 1)), (i, 0, O - 1))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(1, 3),
       st.integers(-1, 5), st.integers(0, 10_000))
def test_derivative_of_a_sum_matches_the_hand_derivative(o: int, k: int, s: int, d: int,
                                                         entry: int, seed: int) -> None:
    f = compile_expr(sympy.Derivative(LOSS, w[m]))
    inst = Instance({"O": Fraction(o), "K": Fraction(k), "S": Fraction(s), "D": Fraction(d),
                     "m": Fraction(entry)}, random.Random(seed))
    value = f(inst, {})
    expected = (sum(inst.indexed("g", (Fraction(a),)) * inst.indexed("x", (Fraction(s * a + d * entry),))
                    for a in range(o)) if 0 <= entry <= k - 1 else 0)
    assert value == expected


def test_derivative_by_a_scalar_symbol_keeps_the_symbol() -> None:
    h, n = sympy.symbols("h n")
    f = compile_expr(sympy.Derivative(sympy.Sum(h ** 2 * x[i], (i, 0, n - 1)), h))
    inst = Instance({"h": Fraction(3), "n": Fraction(2)}, random.Random(1))
    assert f(inst, {}) == 2 * 3 * (inst.indexed("x", (Fraction(0),)) + inst.indexed("x", (Fraction(1),)))


def test_derivative_of_a_huge_expansion_is_declined_not_slow() -> None:
    # declined, not undefined: the value exists, the evaluator only chose not to compute it
    f = compile_expr(sympy.Derivative(LOSS, w[m]))
    inst = Instance({"O": Fraction(10 ** 6), "K": Fraction(3), "S": Fraction(1),
                     "D": Fraction(1), "m": Fraction(0)}, random.Random(0))
    try:
        f(inst, {})
    except Declined as exc:
        assert "too long" in str(exc)
    else:
        raise AssertionError("a million-term expansion was attempted")


def test_wrong_backward_step_is_refuted_with_a_counterexample() -> None:
    # Dropping the flip's partner: the gradient reads g[O - 1 - i] instead of g[i].
    right = sympy.Sum(g[i] * x[S * i + D * m], (i, 0, O - 1))
    wrong = sympy.Sum(g[O - 1 - i] * x[S * i + D * m], (i, 0, O - 1))
    assume = [sympy.Le(m, K - 1), sympy.Ge(m, 0)]
    v = check_exprs(sympy.Derivative(LOSS, w[m]), wrong, assume, budget=3.0)
    assert v.status is Status.REFUTED, v
    point = {k_: val for k_, val in v.counterexample.items() if "[" not in k_}
    assert point["O"] >= 2          # a single output position cannot tell them apart
    # and the true step is never refuted
    assert check_exprs(sympy.Derivative(LOSS, w[m]), right, assume,
                       budget=3.0).status is not Status.REFUTED


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(-9, 9), min_size=1, max_size=6), st.integers(0, 3))
def test_derivative_weights_are_exact_for_polynomials(coeffs: list[int], extra: int) -> None:
    from derive.check.evaluate import _derivative_weights
    degree = len(coeffs) - 1
    weights = _derivative_weights(degree + extra)       # a higher degree bound is fine too

    def p(t: int) -> int:
        return sum(c * t ** n for n, c in enumerate(coeffs))
    slope_at_0 = coeffs[1] if len(coeffs) > 1 else 0
    assert sum(wt * p(j) for j, wt in enumerate(weights)) == slope_at_0


def test_nonlinear_and_non_polynomial_derivatives() -> None:
    # w[u]**2 is polynomial (degree 2); floor(w[u]/2) is not: it is expanded instead, and
    # SymPy leaves d floor/dt unevaluated, so the point has no value (never a guess)
    n = sympy.Symbol("n", integer=True)
    square = compile_expr(sympy.Derivative(sympy.Sum(w[u] ** 2 * x[u], (u, 0, n - 1)), w[m]))
    floored = compile_expr(sympy.Derivative(
        sympy.Sum(sympy.floor(w[u] / 2) + 3 * w[u], (u, 0, n - 1)), w[m]))
    for seed in range(20):
        inst = Instance({"n": Fraction(3), "m": Fraction(1)}, random.Random(seed))
        assert square(inst, {}) == 2 * inst.indexed("w", (Fraction(1),)) * inst.indexed(
            "x", (Fraction(1),))
        with pytest.raises(Declined, match="not evaluated"):
            floored(inst, {})


def test_expansion_writes_sums_out_instead_of_trusting_symbolic_summation() -> None:
    # SymPy's summation gives Sum(KroneckerDelta(1, i + 2*u), (u, 0, 1), (i, 0, 1)) = 2;
    # written out, only (i, u) = (1, 0) hits: 1.  A derivative by a scalar goes this way.
    h = sympy.Symbol("h")
    deltas = sympy.Sum(sympy.KroneckerDelta(1, i + 2 * u), (u, 0, 1), (i, 0, 1))
    f = compile_expr(sympy.Derivative(h * deltas, h))
    assert f(Instance({"h": Fraction(5)}, random.Random(0)), {}) == 1
    # a reversed range is empty (0), as in the evaluator's own sums (not Karr's -x[-2] - x[-1])
    n = sympy.Symbol("n", integer=True)
    g_ = compile_expr(sympy.Derivative(h * sympy.Sum(x[i], (i, 0, n)), h))
    inst = Instance({"h": Fraction(1), "n": Fraction(-3)}, random.Random(2))
    assert g_(inst, {}) == 0
