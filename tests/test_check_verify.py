"""The checker on the identities it must prove and the classic mistakes it must refute."""

from __future__ import annotations

import pytest

from derive.check.engine import verify
from derive.check.verdict import Status

PROVED = [
    "ceiling(a/b) == floor((a + b - 1)/b)",
    "floor(floor(q/a)/b) == floor(q/(a*b))",
    "q == s*floor(q/s) + Mod(q, s)",
    "(C*k**2 + C*M)/(C*M*k**2) == 1/M + 1/k**2",
    # output-size rearrangements
    "floor((H + 2*P - D*(K-1) - 1)/S) + 1 == floor((H + 2*P - D*(K-1) - 1 + S)/S)",
    "floor((H + 2*P - D*(K-1) - 1)/S) + 1 == floor((H + 2*P - D*K + D - 1)/S) + 1",
    "floor((H + 2*P - K)/S) + 1 == floor((H + 2*P - (K - 1) - 1)/S) + 1",
    "floor((H + 2*P - D*(K-1) - 1)/S) + 1 == ceiling((H + 2*P - D*(K-1))/S)",
    "Sum(k, (k, 1, n)) == n*(n + 1)/2",
    "floor((H - 1)/2) + 1 == ceiling(H/2)",          # residue case split
    "floor(H/2) + floor((H + 1)/2) == H",
    "Sum(w[k]*x[i + k], (k, 0, 2)) == w[0]*x[i] + w[1]*x[i + 1] + w[2]*x[i + 2]",
]

REFUTED = [
    # output size without the floor
    "floor((H + 2*P - D*(K-1) - 1)/S) + 1 == (H + 2*P - D*(K-1) - 1)/S + 1",
    # without dilation
    "floor((H + 2*P - D*(K-1) - 1)/S) + 1 == floor((H + 2*P - (K-1) - 1)/S) + 1",
    # off by one
    "floor((H + 2*P - D*(K-1) - 1)/S) + 1 == floor((H + 2*P - D*(K-1))/S) + 1",
    "floor((H + 2*P - K)/S) + 1 == floor((H + 2*P - D*(K-1) - 1)/S) + 1",
    "floor(a/b) + floor(c/b) == floor((a + c)/b)",
    "ceiling(a/b) == floor(a/b) + 1",
]


@pytest.mark.parametrize("claim", PROVED)
def test_proved(claim: str) -> None:
    v = verify(claim)
    assert v.status is Status.PROVED, v.explain()
    assert v.method


@pytest.mark.parametrize("claim", REFUTED)
def test_refuted_with_counterexample(claim: str) -> None:
    from derive.check.parse import parse_claim
    import sympy
    v = verify(claim)
    assert v.status is Status.REFUTED, v.explain()
    assert v.counterexample
    # Re-evaluate both sides independently with SymPy at the counterexample.
    lhs, rhs = parse_claim(claim)
    point = {s: sympy.Integer(v.counterexample[s.name]) for s in lhs.free_symbols | rhs.free_symbols}
    assert lhs.xreplace(point) == v.lhs_value
    assert rhs.xreplace(point) == v.rhs_value
    assert v.lhs_value != v.rhs_value
    # every value lies in the default domain (positive integers; P may be zero)
    for name, value in v.counterexample.items():
        assert value >= (0 if name == "P" else 1)


def test_assumptions_shape_the_domain() -> None:
    # True only when s >= 2: refuted on the default domain, proved under the assumption.
    claim = "floor((s + 1)/s) == 1"
    assert verify(claim).status is Status.REFUTED
    assert verify(claim, assume=["s >= 2"]).status in (Status.PROVED, Status.TESTED)


def test_relational_assumption_limits_sampling() -> None:
    v = verify("floor(a/s) == 0", assume=["a >= 0", "a <= s - 1"])
    assert v.status in (Status.PROVED, Status.TESTED)
    assert v.instances > 10
    assert verify("floor(a/s) == 0", assume=["a >= 0"]).status is Status.REFUTED


def test_tested_is_never_called_proved() -> None:
    v = verify("floor(a/s) == 0", assume=["a >= 0", "a <= s - 1"])
    if v.status is Status.TESTED:
        assert "TESTED, not proved" in v.explain()


def test_decimals_are_exact_rationals() -> None:
    assert verify("1.15 == 23/20").status is Status.PROVED
    assert verify("0.1 + 0.2 == 0.3").status is Status.PROVED
    assert verify("1.2 * 1.1**2 * 1.15**2 == 1.92").status is Status.REFUTED


def test_sympy_singletons_are_user_symbols() -> None:
    v = verify("S*N + E*I + Q + O == O + Q + I*E + N*S")
    assert v.status is Status.PROVED
    assert verify("S + 1 == 2", assume=["S >= 1"]).status is Status.REFUTED


def test_real_symbols() -> None:
    assert verify("floor(x + 1) == floor(x) + 1", assume=["x real"]).status is Status.PROVED
    assert verify("floor(2*x) == 2*floor(x)", assume=["x real"]).status is Status.REFUTED


def test_finite_domain_is_exhaustive() -> None:
    v = verify("Mod(k**2, 8) == 1", assume=["1 <= k <= 15", "k odd"])
    assert v.status is Status.PROVED
    assert "exhaustive" in v.method


def test_time_budget_gives_unknown_or_tested_not_hang() -> None:
    import time
    t = time.perf_counter()
    v = verify("Sum(binomial(n, k)**3, (k, 0, n)) == Sum(binomial(n, k)**3, (k, 0, n)) + 0*n",
               budget=1.0)
    assert time.perf_counter() - t < 5
    assert v.status in (Status.PROVED, Status.TESTED, Status.UNKNOWN)


def test_verdict_json_fields() -> None:
    d = verify("ceiling(a/b) == floor(a/b) + 1").to_dict()
    assert d["verdict"] == "refuted"
    for key in ("method", "counterexample", "lhs_value", "rhs_value", "instances"):
        assert key in d
    assert isinstance(d["counterexample"]["a"], int)


def test_non_commuting_operators_are_not_reordered() -> None:
    import sympy
    from derive.check.engine import check_exprs
    J1, J2 = sympy.symbols("J_1 J_2", commutative=False)
    swapped = check_exprs(J1 * J2, J2 * J1)
    assert swapped.status is Status.REFUTED
    assert check_exprs((1 + J2) * (1 + J1), 1 + J1 + J2 + J2 * J1).status is Status.PROVED
    assert check_exprs((1 + J2) * (1 + J1), 1 + J1 + J2 + J1 * J2).status is Status.REFUTED


def test_undefined_functions_are_arbitrary() -> None:
    import sympy
    from derive.check.engine import check_exprs
    F, h = sympy.Function("F"), sympy.Symbol("h")
    assert check_exprs(h + F(h), F(h) + h).status is Status.PROVED
    assert check_exprs(F(h) + F(h + 1), 2 * F(h)).status is Status.REFUTED


def test_a_delta_picks_a_term_only_when_its_index_is_in_range() -> None:
    """The derivative of a correlation by one weight is proved from the index's range, and
    the same strategy proves nothing when the range is not given."""
    import sympy

    from derive.check.domain import build_domain
    from derive.check.strategies import delta_sums

    inside = build_domain(["K", "i", "m"], ["m >= 0", "m <= K - 1"])
    K, i, m = (inside.of(n).sympy_symbol() for n in "Kim")
    u = sympy.Symbol("u", integer=True)
    w, x = sympy.IndexedBase("w"), sympy.IndexedBase("x")
    lhs = sympy.Derivative(sympy.Sum(w[u] * x[i + u], (u, 0, K - 1)), w[m])
    assert delta_sums(lhs, x[i + m], inside) is not None
    assert delta_sums(lhs, x[i + m + 1], inside) is None
    assert delta_sums(lhs, x[i + m], build_domain(["K", "i", "m"], ["m >= 0"])) is None
    reals = build_domain(["K", "h"], ["h real", "h >= 0", "h <= K - 1"])
    h = reals.of("h").sympy_symbol()            # not an integer: no term is picked
    picked = sympy.Sum(sympy.KroneckerDelta(u, h) * x[u], (u, 0, reals.of("K").sympy_symbol() - 1))
    assert delta_sums(picked, x[h], reals) is None
