"""The counterexample search: the small-value box comes in the documented order, lazily, so
a claim with many symbols costs the few hundred points searched, not the whole box."""

from __future__ import annotations

import itertools

import sympy
from hypothesis import example, given, strategies as st

from derive.check.engine import check_exprs
from derive.check.search import BOX_POINTS, box_order


@example(sizes=[2, 3])
@example(sizes=[1, 1, 1])
@example(sizes=[4])
@given(st.lists(st.integers(min_value=1, max_value=4), min_size=1, max_size=5))
def test_box_order_is_the_sorted_product(sizes: list[int]) -> None:
    brute = sorted(itertools.product(*[range(k) for k in sizes]), key=lambda t: (sum(t), t))
    assert list(box_order(sizes)) == brute


def test_box_order_is_lazy_for_many_symbols() -> None:
    first = list(itertools.islice(box_order([2] * 80), BOX_POINTS))
    assert first[0] == (0,) * 80 and len(first) == BOX_POINTS
    assert all(sum(t) <= 2 for t in first)               # 1 + 80 + (80 choose 2) > 256


def test_a_claim_with_eighty_symbols_is_checked() -> None:
    # 2**80 small-value combinations: the box used to be built whole, and ran out of memory.
    w, x = sympy.symbols("w0:40"), sympy.symbols("x0:40")
    dot = sum(a * b for a, b in zip(w, x))
    assert check_exprs(dot, sympy.expand(dot)).proved
    shifted = check_exprs(dot, sympy.expand(dot) + 1)
    assert shifted.refuted and shifted.lhs_value + 1 == shifted.rhs_value
