"""Soundness: for random claims built from the pieces conv formulas use, the checker never
calls a false claim proved.  The judge is brute-force evaluation with SymPy's own exact
arithmetic on a grid that is independent of the checker's search."""

from __future__ import annotations

import itertools

import pytest
import sympy
from hypothesis import HealthCheck, given, settings, strategies as st

from derive.check.engine import verify
from derive.check.verdict import Status

NAMES = ["a", "b", "c"]
SYMS = {n: sympy.Symbol(n) for n in NAMES}


def _atoms() -> st.SearchStrategy[str]:
    return st.sampled_from(NAMES + ["1", "2", "3"])


def _terms(depth: int = 2) -> st.SearchStrategy[str]:
    base = _atoms()
    if depth == 0:
        return base
    sub = _terms(depth - 1)
    return st.one_of(
        base,
        st.builds(lambda x, y: f"({x} + {y})", sub, sub),
        st.builds(lambda x, y: f"({x} - {y})", sub, sub),
        st.builds(lambda x, y: f"({x}*{y})", sub, sub),
        st.builds(lambda x, d: f"floor({x}/{d})", sub, st.sampled_from(["a", "b", "2", "3", "(a*b)"])),
        st.builds(lambda x, d: f"ceiling({x}/{d})", sub, st.sampled_from(["b", "c", "2"])),
        st.builds(lambda x, d: f"Mod({x}, {d})", sub, st.sampled_from(["b", "3"])),
    )


def _brute_force_equal(claim: str) -> bool:
    """Evaluate both sides with SymPy on a..c in 1..7: True iff they agree everywhere."""
    from derive.check.parse import parse_claim
    lhs, rhs = parse_claim(claim)
    for values in itertools.product(range(1, 8), repeat=3):
        env = {SYMS[n]: sympy.Integer(v) for n, v in zip(NAMES, values)}
        env = {s: env[sympy.Symbol(s.name)] for s in (lhs.free_symbols | rhs.free_symbols)}
        try:
            left, right = lhs.xreplace(env), rhs.xreplace(env)
        except ZeroDivisionError:
            continue  # undefined here: outside where the claim speaks
        if left.has(sympy.zoo, sympy.nan) or right.has(sympy.zoo, sympy.nan):
            continue
        if sympy.simplify(left - right) != 0:
            return False
    return True


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_terms(), _terms())
def test_random_claims_never_falsely_proved(left: str, right: str) -> None:
    claim = f"{left} == {right}"
    v = verify(claim, budget=3)
    truth = _brute_force_equal(claim)
    if v.status is Status.PROVED:
        assert truth, f"false claim proved: {claim} ({v.method})"
    if v.status is Status.REFUTED:
        assert v.lhs_value != v.rhs_value


# Mutations of true identities: each mutant is judged by brute force, then checked.
TRUE_IDENTITIES = [
    "ceiling(a/b) == floor((a + b - 1)/b)",
    "floor(floor(a/b)/c) == floor(a/(b*c))",
    "a == b*floor(a/b) + Mod(a, b)",
    "floor((a + 2*c - b)/c) + 1 == floor((a + 2*c - b + c)/c)",
]


@settings(max_examples=120, deadline=None)
@given(st.sampled_from(TRUE_IDENTITIES), st.sampled_from(["+ 1", "- 1", "* 2"]),
       st.integers(min_value=0, max_value=40))
def test_perturbed_identities(identity: str, change: str, position: int) -> None:
    # perturb one occurrence of a symbol or a number
    import re
    tokens = [m.start() for m in re.finditer(r"\b[abc123]\b", identity)]
    i = tokens[position % len(tokens)]
    mutant = f"{identity[:i]}({identity[i]} {change}){identity[i + 1:]}"
    v = verify(mutant, budget=3)
    truth = _brute_force_equal(mutant)
    if not truth:
        assert v.status is not Status.PROVED, f"false mutant proved: {mutant}"
    if v.status is Status.REFUTED:
        assert not truth


@pytest.mark.parametrize("claim, assume", [
    ("0 / floor(x / (x + 1)) == 0 / floor(x / (x + 1))", ["x >= 1"]),
    ("0 / floor(x / (x + 1)) == 0", ["x >= 0"]),
    ("y / floor(x / (x + 2)) == y / floor(x / (x + 2))", ["x >= 1"]),
])
def test_a_divisor_sympy_folds_to_zero_is_still_a_division_by_zero(claim, assume) -> None:
    # On positive integers SymPy folds floor(x/(x + 1)) to 0 and 0/0-free forms to 0, so the
    # division is gone from the built sides; the claim is undefined at every point all the
    # same, and says which divisor vanishes.
    v = verify(claim, assume=assume)
    assert v.status is Status.REFUTED
    assert "floor(x/(x + " in v.method and "is 0 there" in v.method
