"""The claim language: a whitelist, never executed; hostile input gets a quick clear error."""

from __future__ import annotations

import time

import pytest
import sympy
from hypothesis import given, settings, strategies as st

from derive.check.parse import parse_claim, parse_expression
from derive.errors import ParseError

HOSTILE = [
    ("__import__('os').system('true')", "attribute access"),
    ("x.__class__", "attribute access"),
    ("lambda: 1", "lambda"),
    ("(" * 10_000 + "x" + ")" * 10_000, "limit"),
    ("x" * 1_000_000, "limit"),
    ("[c for c in x]", "comprehension"),
    ("open('/etc/passwd')", "unknown function 'open'"),
    ("'text'", "only numbers"),
    ("2 ** 10 ** 10", "too large"),
    ("(10**9) ** (10**9 / 3)", "too large"),     # a rational exponent is a big power too
    ("(3/2) ** (10**9 / 7)", "too large"),
    ("a ^ 2", "'**'"),
    ("_x + 1", "not allowed"),
    ("f(x)", "unknown function 'f'"),
    ("x if y else z", "conditional"),
    ("-" * 5000 + "x", "nested"),
    (" // ".join(["x"] * 300), "nested"),
]


@pytest.mark.parametrize("text,expected", HOSTILE)
def test_hostile_input_clear_error_fast(text: str, expected: str, tmp_path, monkeypatch) -> None:
    marker = tmp_path / "executed"
    monkeypatch.chdir(tmp_path)
    start = time.perf_counter()
    with pytest.raises(ParseError) as err:
        parse_expression(text)
    assert time.perf_counter() - start < 1.0
    assert expected in str(err.value)
    assert not marker.exists()


RUNAWAY = "Mod(Sum(sin(k), (k, 0, 10**9)), 7)"   # SymPy sums it numerically, for ever


@pytest.mark.parametrize("entry", ["expression", "relation", "claim", "assumption"])
def test_runaway_build_is_stopped_by_the_parse_budget(entry: str) -> None:
    # Every way in (a bare expression, a relation, a claim side, an assumption) builds
    # under the parse budget: this input once hung the parser outside a comparison.
    from derive.check.domain import build_domain
    from derive.check.parse import PARSE_BUDGET, parse_relation
    call = {"expression": lambda: parse_expression(RUNAWAY),
            "relation": lambda: parse_relation(RUNAWAY),
            "claim": lambda: parse_claim(f"x == {RUNAWAY}"),
            "assumption": lambda: build_domain(["x"], [f"x >= {RUNAWAY}"])}[entry]
    start = time.perf_counter()
    with pytest.raises(ParseError, match="more than"):
        call()
    assert time.perf_counter() - start < PARSE_BUDGET + 3.0


def test_error_gives_column() -> None:
    with pytest.raises(ParseError) as err:
        parse_expression("a + b.real")
    assert err.value.column == 5
    assert "b.real" in str(err.value)


def test_reserved_letters_are_symbols() -> None:
    e = parse_expression("S + N + E + I + Q + O")
    assert all(isinstance(a, sympy.Symbol) for a in e.args)
    assert {str(a) for a in e.args} == {"S", "N", "E", "I", "Q", "O"}


def test_language_pieces() -> None:
    assert parse_expression("a // b") == sympy.floor(sympy.Symbol("a") / sympy.Symbol("b"))
    assert parse_expression("1.15") == sympy.Rational(23, 20)
    assert parse_expression("Rational(1, 3)") == sympy.Rational(1, 3)
    assert parse_expression("binomial(n, 2)") == sympy.binomial(sympy.Symbol("n"), 2)
    s = parse_expression("Sum(x[i + k], (k, 0, K - 1))")
    assert isinstance(s, sympy.Sum)
    p = parse_expression("Product(k, (k, 1, 3))")
    assert p.doit() == 6
    lhs, rhs = parse_claim("ceil(a / b) == a % b")
    assert isinstance(lhs, sympy.ceiling) and isinstance(rhs, sympy.Mod)


def test_bound_variable_is_the_summand_variable() -> None:
    s = parse_expression("Sum(w[k], (k, 0, 2))")
    assert s.doit() == sum(sympy.IndexedBase("w")[k] for k in range(3))


def test_claim_needs_one_equality() -> None:
    with pytest.raises(ParseError, match="=="):
        parse_claim("a + b")
    with pytest.raises(ParseError):
        parse_claim("a < b")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_fuzz_random_text(text: str) -> None:
    try:
        parse_expression(text)
    except ParseError:
        pass


TOKENS = ["a", "b", "1", "2.5", "+", "-", "*", "/", "**", "(", ")", "[", "]", ",", "floor",
          "Sum", "==", "x", ".", "__", "lambda", ":", "'", "Mod", "(k, 0, 3)", "%", "//"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=25))
def test_fuzz_token_soup(tokens: list[str]) -> None:
    text = " ".join(tokens)
    start = time.perf_counter()
    try:
        parse_expression(text)
    except ParseError:
        pass
    assert time.perf_counter() - start < 1.0


def test_primed_names_are_symbols() -> None:
    # u' and c'' are names (index calculus writes them everywhere); quotes that open a
    # string are still refused, and the quoted piece and column refer to the text as typed.
    e = parse_expression("Sum(w[u'] * x[S*i + D*u'], (u', 0, K - 1)) + c''")
    names = {s.name for s in e.free_symbols if isinstance(s, sympy.Symbol)}
    assert {"c''", "S", "D", "K", "i"} <= names and "u'" not in names   # u' is bound
    assert parse_expression("u' - u'") == 0
    with pytest.raises(ParseError) as err:
        parse_expression("u' + 'text'")
    assert err.value.column == 6
    with pytest.raises(ParseError) as err:
        parse_expression("u' + y.z")
    assert "'y.z'" in str(err.value) and err.value.column == 6


def test_primed_names_in_assumptions_and_claims() -> None:
    from derive.check.engine import verify
    v = verify("Sum(KroneckerDelta(u, u'), (u, 0, K - 1)) == 1", ["0 <= u' <= K - 1"])
    assert v.status.value in ("proved", "tested")
    v = verify("Sum(KroneckerDelta(u, u'), (u, 0, K - 1)) == 1", ["0 <= u'"])
    assert v.status.value == "refuted" and v.counterexample["u'"] >= v.counterexample["K"]


def test_derivatives_of_sums_are_claims() -> None:
    # the backward pass by hand: a dropped dilation is refuted at a small point, the
    # right formula is proved; a derivative by a number is a clear error
    from derive.check.engine import verify
    loss = "Derivative(Sum(w[u]*x[S*i + D*u], (u, 0, K - 1)), w[m])"
    wrong = verify(f"{loss} == x[S*i + m]", ["0 <= m <= K - 1"])
    assert wrong.status.value == "refuted" and wrong.counterexample["D"] >= 2
    right = verify(f"{loss} == x[S*i + D*m]", ["0 <= m <= K - 1"])
    assert right.status.value == "proved" and "delta picks one term" in right.method
    with pytest.raises(ParseError, match="Derivative takes"):
        parse_expression("Derivative(x, 3)")
