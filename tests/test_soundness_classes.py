"""Soundness of "proved" and "refuted", one defect class at a time.

Each class is tested at its root (the mechanism), with a property against brute force where
the class has one, and its known examples through every entry point: the Python API, the
command line (words and ``--json``), ``--file`` and ``--batch``.  Ground truth comes from
plain Python arithmetic here, never from the engine.
"""

from __future__ import annotations

import json
import math
import random
from fractions import Fraction
from pathlib import Path

import pytest
import sympy
from hypothesis import example, given, settings, strategies as st

from derive.check.domain import build_domain
from derive.check.engine import check_exprs, verify
from derive.check.evaluate import Declined, Instance, Undefined, compile_expr
from derive.check.search import in_domain
from derive.check.verdict import Status
from derive.cli import main
from derive.errors import DeriveError, InputError

SETTINGS = settings(max_examples=200, deadline=None, derandomize=True)


def _verdict(text: str, assume: list[str]) -> Status:
    return verify(text, assume=assume).status


# --------------------------------------------------------------------- the quoted examples
# (claim, assumptions, truth on the domain)
FALSE = [
    ("binomial(n, 2) == n*(n - 1)/2 + floor(n/5001)", ["n >= 4990", "n <= 5010"]),
    ("x == 1", ["x <= 2", "x < 2.5"]),
    ("floor(a_q/2) + floor((a_q + 1)/2) == a_q + 1", []),
    ("k + Sum(Sum(1, (j, 1, k)), (k, 1, n)) == k + k*n", ["k <= 3", "n <= 3"]),
    ("Sum(1, (k, 1, n - 2)) == n - 2", []),
    ("x/x == 1", ["x >= 0"]),
    ("(x**2 - 1)/(x - 1) == x + 1", []),
    ("Mod(6, x - 3) == 0", ["x <= 5"]),
    ("ceiling(a/b) == -floor(-a/b)", ["b integer"]),
    ("sqrt(2) == 1414213562373095/10**15", []),
]
TRUE = [
    ("floor(4/x) == 0", ["x >= 5", "x positive"]),
    ("floor(4/x) == 0", ["x positive", "x >= 5"]),
    ("floor(x) == 0", ["x real", "x >= 0", "x < 1"]),
    ("k + Sum(Sum(1, (j, 1, k)), (k, 1, n)) == k + n*(n + 1)/2", ["k <= 3", "n <= 3"]),
    ("Sum(Sum(1, (j, 1, k)), (k, 1, n)) == n*(n + 1)/2", []),
    ("Sum(k, (k, 5, 3)) == 0", []),
    ("Product(k, (k, 5, 3)) == 1", []),
    ("(exp(x) + 1)**2 - exp(2*x) - 2*exp(x) == 1", []),
    (" + ".join(["a"] * 300) + " == 300*a", []),
]


# false, with counterexamples too far out for a search to meet (false only where
# |H - H_shifted - 1| >= 31623): never proved is what soundness asks
FALSE_FAR = [("floor((H - H_shifted - 1)**2/10**9) == 0", ["H >= 2"])]


@pytest.mark.parametrize("text,assume", FALSE)
def test_false_examples_are_refuted_never_proved(text: str, assume: list[str]) -> None:
    v = verify(text, assume=assume)
    assert v.status is Status.REFUTED, v.explain()
    assert _inside(v.counterexample, build_domain(list(v.counterexample), assume))


@pytest.mark.parametrize("text,assume", FALSE_FAR)
def test_false_examples_far_out_are_never_proved(text: str, assume: list[str]) -> None:
    assert verify(text, assume=assume).status is not Status.PROVED


@pytest.mark.parametrize("text,assume", TRUE)
def test_true_examples_are_never_refuted(text: str, assume: list[str]) -> None:
    v = verify(text, assume=assume)
    assert v.status in (Status.PROVED, Status.TESTED), v.explain()


def test_triangular_double_sums_are_proved() -> None:
    for text in ("Sum(Sum(1, (j, 1, k)), (k, 1, n)) == n*(n + 1)/2",
                 "Sum(Sum(j, (j, 1, k)), (k, 1, n)) == n*(n + 1)*(n + 2)/6"):
        assert verify(text).proved, text


def _inside(point: dict, domain) -> bool:
    return in_domain(domain, {k: Fraction(str(v)) for k, v in point.items()})


# --------------------------------------------------------------------- 1. exhaustive proofs
def test_an_exhaustive_proof_evaluates_every_point() -> None:
    # powers, binomials and sums beyond the evaluator's old cut-offs were skipped silently
    v = verify("binomial(n, 2) == n*(n - 1)/2 + floor(n/5001)", ["n >= 4990", "n <= 5010"])
    assert v.refuted and v.counterexample == {"n": 5001}
    v = verify("binomial(n, 2) == n*(n - 1)/2", ["n >= 4990", "n <= 5010"])
    assert v.proved and "21 cases" in v.method


def test_a_declined_point_is_no_proof() -> None:
    # 10**(10**7) is too large to compute: the point decides nothing, so no exhaustive proof
    x = sympy.Symbol("x")
    v = check_exprs(10 ** (x * 10 ** 7) - 10 ** (x * 10 ** 7) + x, x, ["x <= 2"])
    assert v.status is not Status.REFUTED
    f = compile_expr(sympy.Integer(10) ** (x * 10 ** 7))
    with pytest.raises(Declined):
        f(Instance({"x": Fraction(2)}, random.Random(0)), {})


# --------------------------------------------------------------------- 2. assumptions
BOUNDS = st.tuples(st.sampled_from([">=", ">", "<=", "<"]),
                   st.fractions(min_value=-6, max_value=9, max_denominator=4))


@SETTINGS
@given(st.lists(BOUNDS, min_size=1, max_size=4), st.randoms(use_true_random=False))
@example([("<=", Fraction(2)), ("<", Fraction(5, 2))], random.Random(0))
def test_the_domain_is_the_intersection_in_any_order(bounds, rnd) -> None:
    texts = [f"x {op} {v}" for op, v in bounds]
    ops = {">=": lambda a, b: a >= b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b,
           "<": lambda a, b: a < b}
    lower_given = any(op in (">=", ">") for op, _ in bounds)
    expected = [v for v in range(-10, 15)
                if all(ops[op](v, c) for op, c in bounds) and (lower_given or v >= 1)]
    for order in (texts, list(reversed(texts)), rnd.sample(texts, len(texts))):
        try:
            d = build_domain(["x"], order)
        except InputError:
            assert expected == [], order
            continue
        got = [v for v in range(-10, 15) if d.of("x").contains(Fraction(v))]
        assert got == expected, (order, d.of("x").describe())


def test_a_kind_word_meets_the_bounds_in_either_order() -> None:
    for order in (["x >= 5", "x positive"], ["x positive", "x >= 5"]):
        assert build_domain(["x"], order).of("x").lower == 5
    d = build_domain(["x"], ["x <= 5", "x real"])
    assert not d.of("x").integer and d.of("x").upper == 5


@pytest.mark.parametrize("assume,named", [
    (["k odd", "k even"], ["k odd", "k even"]),
    (["x >= 5", "x <= 3"], ["x >= 5", "x <= 3"]),
    (["x real", "x > 1", "x < 1"], ["x > 1", "x < 1"]),
    (["x odd", "x >= 2", "x <= 2"], ["x odd", "x >= 2", "x <= 2"])])
def test_contradictory_assumptions_are_bad_input(assume, named, capsys) -> None:
    with pytest.raises(InputError, match="contradictory"):
        build_domain(["k", "x"], assume)
    args = ["verify", "k + x == x + k"]
    for a in assume:
        args += ["--assume", a]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert all(a in err for a in named) and "Traceback" not in err


# --------------------------------------------------------------------- 3. counterexamples
@SETTINGS
@given(st.fractions(min_value=-3, max_value=3, max_denominator=3),
       st.fractions(min_value=Fraction(1, 3), max_value=4, max_denominator=3))
def test_real_counterexamples_stay_inside_the_domain(low, width) -> None:
    assume = ["x real", f"x >= {low}", f"x < {low + width}"]
    v = verify("floor(x) == floor(x + 1/7)", assume=assume)
    if v.refuted:
        x = Fraction(str(v.counterexample["x"]))
        assert low <= x < low + width
        assert math.floor(x) != math.floor(x + Fraction(1, 7))


def test_every_refutation_passes_the_recheck(monkeypatch) -> None:
    # a search that reports a wrong point is caught by the single choke point
    import derive.check.search as search_mod
    real = search_mod._Sides.compare

    def lying(self, constraints, point, rng_seed, result, again=False):
        out = real(self, constraints, point, rng_seed, result, again)
        if result.counterexample is None and result.instances >= 1:
            return search_mod._record(result, Instance(dict(point), random.Random(0)),
                                      0, 1, "")
        return out
    monkeypatch.setattr(search_mod._Sides, "compare", lying)
    v = verify("a + b == b + a", assume=["a <= 40"])
    assert v.status is Status.UNKNOWN and "re-check" in v.method


# --------------------------------------------------------------------- 4. fresh names
@pytest.mark.parametrize("name", ["H_shifted", "H'", "a_q", "t", "h", "q"])
def test_internal_names_never_meet_user_names(name: str) -> None:
    v = verify(f"floor((H - {name} - 1)**2/10**9) == 0", assume=["H >= 2"])
    assert v.status is not Status.PROVED, v.explain()


# --------------------------------------------------------------------- 5 and 6. sums
def _brute_sum(lo: int, hi: int, f) -> int:
    return sum(f(j) for j in range(lo, hi + 1))   # empty when hi < lo


@SETTINGS
@given(st.integers(-3, 4), st.integers(-3, 4), st.integers(1, 4))
def test_dependent_and_empty_ranges_follow_the_usual_convention(a, b, n) -> None:
    text = f"Sum(Sum(j + k, (j, {a}, k)), (k, {b}, n)) == v"
    truth = _brute_sum(b, n, lambda k: _brute_sum(a, k, lambda j: j + k))
    both = [f"Sum(Sum(j + k, (j, {a}, k)), (k, {b}, n))", f"Sum(j + k, (j, {a}, k), (k, {b}, n))"]
    for left in both:
        v = verify(f"{left} == {truth}", assume=[f"n == {n}"])
        assert v.proved, (left, v.explain())
        assert verify(f"{left} == {truth + 1}", assume=[f"n == {n}"]).refuted
    del text


def test_a_sum_with_a_free_symbol_of_the_same_name() -> None:
    assert verify("k + Sum(k, (k, 1, n)) == k + n*(n + 1)/2").status is not Status.REFUTED
    assert verify("k + Sum(k, (k, 1, n)) == k*(n + 1)").refuted


def test_closed_forms_need_a_range_that_is_not_reversed() -> None:
    assert verify("Sum(1, (k, 1, n - 2)) == n - 2").refuted
    assert verify("Sum(1, (k, 1, n - 2)) == n - 2", assume=["n >= 2"]).proved
    assert verify("Sum(1, (k, 1, n - 2)) == Max(n - 2, 0)").status is not Status.REFUTED


# --------------------------------------------------------------------- 7. undefined points
UNDEFINED = [("x/x == 1", ["x >= 0"], {"x": 0}),
             ("(x**2 - 1)/(x - 1) == x + 1", [], {"x": 1}),
             ("Mod(6, x - 3) == 0", ["x <= 5"], {"x": 3}),
             ("x/(x - 1000) == 1 + 1000/(x - 1000)", [], {"x": 1000})]


@pytest.mark.parametrize("text,assume,point", UNDEFINED)
def test_an_undefined_point_is_reported(text, assume, point, capsys, tmp_path) -> None:
    v = verify(text, assume=assume)
    assert v.refuted and v.counterexample == point, v.explain()
    assert "undefined" in (v.lhs_value, v.rhs_value)
    assert "such as" in v.detail
    args = ["verify", "--json", text] + [x for a in assume for x in ("--assume", a)]
    assert main(args) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "refuted" and "undefined" in (data["lhs_value"], data["rhs_value"])
    assert main(args[:1] + args[2:]) == 1
    assert "undefined" in capsys.readouterr().out
    # --file: a derivation whose second line divides by zero in the domain
    lhs, rhs = text.split(" == ")
    work = tmp_path / "work.txt"
    work.write_text("".join(f"# assume: {a}\n" for a in assume) + f"{rhs}\n= {lhs}\n")
    assert main(["verify", "--file", str(work)]) == 1
    assert "undefined" in capsys.readouterr().out
    # --batch
    batch = tmp_path / "b.jsonl"
    batch.write_text(json.dumps({"id": "1", "claim": text, "assume": assume}) + "\n")
    out = tmp_path / "out.jsonl"
    main(["verify", "--batch", str(batch), "--jobs", "1", "--output", str(out)])
    got = json.loads(out.read_text().splitlines()[0])
    assert got["verdict"] == "refuted", got


def test_a_divisor_that_cannot_be_settled_leaves_the_claim_unproved() -> None:
    # x*y - 1000 has no zero the engine can show or exclude by its own means here
    v = verify("(x*y - 1000)/(x*y - 1000) == 1", assume=["x >= 1", "y >= 1"])
    assert v.status is not Status.PROVED
    assert verify("(x + 1)/(x + 1) == 1").proved


# --------------------------------------------------------------------- 8. numbers
def test_numeric_comparisons_are_rigorous() -> None:
    v = verify("(exp(x) + 1)**2 - exp(2*x) - 2*exp(x) == 1")
    assert v.status is not Status.REFUTED
    v = verify("sqrt(2) == 1414213562373095/10**15")
    assert v.refuted and str(v.lhs_value).startswith("1.41421356237309504880")
    assert verify("exp(x) == exp(x) + exp(-40)").refuted     # differs in the 18th digit
    # below the 30 digits compared: agreement is claimed to that precision, never a proof
    v = verify("exp(x) == exp(x) + exp(-400)")
    assert v.status is Status.TESTED and "30 significant digits" in v.method


def test_agreement_is_claimed_only_to_the_precision_reached() -> None:
    v = verify("sqrt(x)**3 == x*sqrt(x) + 0")
    assert v.status in (Status.PROVED, Status.TESTED)
    v = verify("pi == 355/113")
    assert v.refuted


# --------------------------------------------------------------------- 9. entry points
def test_the_api_keeps_the_callers_symbol_assumptions() -> None:
    x = sympy.Symbol("x", real=True)
    v = verify(sympy.Eq(sympy.sqrt(x ** 2), x, evaluate=False))
    assert v.refuted and Fraction(str(v.counterexample["x"])) < 0
    xp = sympy.Symbol("x", positive=True)
    assert verify(sympy.Eq(sympy.sqrt(xp ** 2), xp, evaluate=False)).status is not Status.REFUTED


def test_engine_functions_of_the_claim_language_never_crash(capsys) -> None:
    from derive.check.parse import ENGINE_FUNCTIONS
    for name in ENGINE_FUNCTIONS:
        code = main(["verify", f"{name}(H, K) == 1"])
        assert code in (0, 1, 2, 3)
        assert "Traceback" not in capsys.readouterr().err


def test_a_flat_sum_is_not_deep() -> None:
    assert verify(" + ".join(["a"] * 300) + " == 300*a").proved


def test_no_internal_error_leaks(tmp_path) -> None:
    for text, assume in FALSE + FALSE_FAR + TRUE:
        try:
            verify(text, assume=assume)
        except DeriveError:
            pass


def test_latex_divisors_are_kept_where_sympy_cancels_them(capsys, tmp_path) -> None:
    # \frac{x}{x} is 1 once SymPy has built it; the claim is still undefined at x = 0
    assert main(["verify", "--format", "latex", "--assume", "x >= 0", r"\frac{x}{x} = 1"]) == 1
    assert "undefined" in capsys.readouterr().out
    work = tmp_path / "work.tex"
    work.write_text("% assume: x >= 0\n$$ \\frac{x}{x} = 1 $$\n")
    assert main(["verify", "--file", str(work)]) == 1
    assert "no value when x=0" in capsys.readouterr().out
    batch = tmp_path / "b.jsonl"
    batch.write_text(json.dumps({"id": "1", "claim": r"\frac{x}{x} = 1", "format": "latex",
                                 "assume": ["x >= 0"]}) + "\n")
    out = tmp_path / "out.jsonl"
    main(["verify", "--batch", str(batch), "--jobs", "1", "--output", str(out)])
    assert json.loads(out.read_text().splitlines()[0])["verdict"] == "refuted"


def test_a_divisor_of_a_piecewise_branch_counts_only_where_that_branch_is_taken() -> None:
    """The engine's receptive field is Piecewise((L(K-1)+1, S = 1), (... /(S - 1), True)):
    S = 1 takes the first branch, so it is no point where the claim is undefined."""
    import sympy

    from derive.check.engine import check_exprs
    from derive.conv.receptive import receptive_field_size

    L, K, S, x = sympy.symbols("L K S x")
    r = receptive_field_size(L, K, S)
    assert check_exprs(r, r).status is Status.PROVED
    # where the branch is taken, its zero divisor still refutes
    taken = sympy.Piecewise((1 / (x - 2), x <= 3), (1, True))
    v = check_exprs(taken, taken)
    assert v.status is not Status.PROVED
    assert check_exprs(sympy.Piecewise((1 / (x - 2), x >= 5), (0, True)),
                       sympy.Piecewise((1 / (x - 2), x >= 5), (0, True))).status \
        is Status.PROVED


def test_sums_that_differ_only_in_their_index_names_are_identical() -> None:
    import sympy

    from derive.check.engine import check_exprs

    u, v, K = sympy.symbols("u v K")
    w = sympy.IndexedBase("w")
    assert check_exprs(sympy.Sum(w[u], (u, 0, K)), sympy.Sum(w[v], (v, 0, K))).status \
        is Status.PROVED
    assert check_exprs(sympy.Sum(w[u], (u, 0, K)), sympy.Sum(w[v], (v, 1, K))).status \
        is Status.REFUTED
