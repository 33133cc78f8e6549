"""Each lemma of the floor/ceiling layer, tested against brute force over its side
conditions, and the canonical rewriter checked to preserve values."""

from __future__ import annotations

import math
from fractions import Fraction

import sympy
from hypothesis import example, given, strategies as st

from derive.check.lemmas import LEMMAS, Rewriter

ints = st.integers(min_value=-60, max_value=60)
pos = st.integers(min_value=1, max_value=25)


def test_every_lemma_is_tested_here() -> None:
    assert set(LEMMAS) == {"mod-as-floor", "ceiling-as-floor", "integer-shift",
                           "floor-reflection", "nested-floor", "floor-of-integer",
                           "bounded-remainder"}


@given(ints, st.integers(min_value=-20, max_value=20).filter(lambda b: b != 0))
def test_mod_as_floor(a: int, b: int) -> None:
    # SymPy's Mod takes the sign of the divisor, like Python's %
    assert a % b == a - b * math.floor(Fraction(a, b))
    assert sympy.Mod(a, b) == a % b


@given(st.fractions(min_value=-50, max_value=50))
def test_ceiling_as_floor(x: Fraction) -> None:
    assert math.ceil(x) == -math.floor(-x)


@given(st.fractions(min_value=-50, max_value=50), ints)
def test_integer_shift(x: Fraction, m: int) -> None:
    assert math.floor(x + m) == math.floor(x) + m


@example(n=0, d=1)
@given(ints, pos)
def test_floor_reflection(n: int, d: int) -> None:
    assert math.floor(Fraction(-n, d)) == -math.floor(Fraction(n + d - 1, d))


@given(st.fractions(min_value=-50, max_value=50), ints, pos)
def test_nested_floor(x: Fraction, c: int, d: int) -> None:
    assert math.floor(Fraction(math.floor(x) + c, d)) == math.floor((x + c) / d)


@given(st.integers(min_value=-30, max_value=30), st.integers(min_value=-30, max_value=30),
       st.integers(min_value=1, max_value=12), st.integers(min_value=1, max_value=12))
def test_rewriter_preserves_values(p: int, q: int, s: int, t: int) -> None:
    P, Q = sympy.symbols("P Q", integer=True)
    S, T = sympy.symbols("S T", integer=True, positive=True)
    exprs = [
        sympy.ceiling((P - Q) / S),
        sympy.floor((sympy.floor(P / S) + Q) / T),
        sympy.Mod(P + 2 * Q, S),
        sympy.floor((-P + 3 * S - 1) / S),
        sympy.ceiling(sympy.floor(P / T) / S) + sympy.floor(-Q / T),
    ]
    env = {P: p, Q: q, S: s, T: t}
    for e in exprs:
        rewritten = Rewriter().normalize(e)
        assert e.xreplace(env) == rewritten.xreplace(env), (e, rewritten)


@given(st.integers(min_value=1, max_value=40), st.data())
def test_bounded_remainder(d: int, data) -> None:
    r = data.draw(st.integers(min_value=0, max_value=d - 1))
    assert math.floor(Fraction(r, d)) == 0


def test_bounded_remainder_needs_its_condition() -> None:
    from derive.check.engine import verify
    assert verify("floor(a/s) == 0", assume=["a >= 0", "a <= s - 1"]).proved
    assert verify("floor(a/s) == 0", assume=["a >= 0", "a <= s"]).refuted
