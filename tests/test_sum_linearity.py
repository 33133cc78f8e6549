"""Linearity of finite sums: proved where it holds, never where it does not, and the
rewriting it relies on keeps the value (checked against direct summation)."""

from __future__ import annotations

import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import derive
from derive.check.strategies import _split_sums

k, n = sympy.symbols("k n", integer=True)
x, y = sympy.IndexedBase("x"), sympy.IndexedBase("y")


def test_splitting_a_sum_and_taking_out_a_constant_are_proved() -> None:
    for claim in ("Sum(x[k] + y[k], (k, 0, n - 1)) == Sum(x[k], (k, 0, n - 1)) "
                  "+ Sum(y[k], (k, 0, n - 1))",
                  "Sum(c*z[k], (k, 0, M - 1)) == c*Sum(z[k], (k, 0, M - 1))",
                  "Sum(a*w[u]*x[i + u] + b*x[i + u], (u, 0, K - 1)) == "
                  "a*Sum(w[v]*x[i + v], (v, 0, K - 1)) + b*Sum(x[i + u], (u, 0, K - 1))"):
        assert derive.verify(claim).status.value == "proved", claim


def test_near_misses_are_not_proved() -> None:
    for claim in ("Sum(c*z[k], (k, 0, M - 1)) == c*Sum(z[k], (k, 0, M))",
                  "Sum(c*z[k], (k, 0, M - 1)) == Sum(z[k], (k, 0, M - 1))",
                  "Sum(x[k] + y[k], (k, 0, n - 1)) == Sum(x[k], (k, 0, n - 1)) "
                  "+ Sum(y[k], (k, 1, n - 1))",
                  "Sum(k*z[k], (k, 0, M - 1)) == k*Sum(z[k], (k, 0, M - 1))"):
        assert derive.verify(claim).status.value != "proved", claim


@settings(max_examples=60, deadline=None)
@given(a=st.integers(-5, 5), b=st.integers(-5, 5), lo=st.integers(-2, 3),
       size=st.integers(-2, 6), data=st.lists(st.integers(-9, 9), min_size=20, max_size=20))
def test_the_split_keeps_the_value(a: int, b: int, lo: int, size: int,
                                   data: list[int]) -> None:
    e = sympy.Sum(a * x[k] * k + b * y[k] + a * b, (k, lo, lo + size - 1))
    values = {x[i]: data[(i + 5) % 20] for i in range(-5, 15)}
    values.update({y[i]: data[(3 * i + 7) % 20] for i in range(-5, 15)})
    direct = sum((a * values[x[i]] * i + b * values[y[i]] + a * b)
                 for i in range(lo, lo + size))   # empty when size <= 0
    for form in (e, _split_sums(e)):
        got = form.doit().xreplace(values)
        if size <= 0:   # the engine's convention: an empty range sums to 0
            continue
        assert got == direct
