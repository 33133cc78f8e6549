"""The claim language's limits and its engine quantities.

Limits: an operator chain of ``+ -`` (or ``* /``) is flat, as SymPy's Add and Mul are, so a
long sum is read (and read the way Python's grammar reads it) while real nesting (brackets,
calls, unary signs, floor divisions) stays limited.  Engine quantities: every name of the
table resolves and works on symbols, and whatever an engine function refuses is a clean
ParseError naming the function and the argument, never a traceback.
"""

from __future__ import annotations

import ast
import importlib
import time

import pytest
import sympy

import derive
from derive.check import parse
from derive.check.parse import (ENGINE_FUNCTIONS, MAX_CHARS, MAX_DEPTH, parse_claim,
                                parse_expression)
from derive.cli import main
from derive.errors import ParseError

a = sympy.Symbol("a")


# --- long flat chains ----------------------------------------------------------------------

@pytest.mark.parametrize("terms", [300, 3_000])
def test_a_long_flat_sum_is_proved_equal_to_the_product(terms: int) -> None:
    # 300 terms was refused as "nested more than 240 levels deep"; 3,000 is past the
    # length of chain Python's own parser builds a tree for (about 2,990 on 3.11).
    v = derive.verify(" + ".join(["a"] * terms) + f" == {terms}*a")
    assert v.status is derive.Status.PROVED


def test_ten_thousand_terms_within_the_size_limit_are_read_quickly() -> None:
    text = "+".join(["a"] * 10_000)
    assert len(text) <= MAX_CHARS
    start = time.perf_counter()
    assert parse_expression(text) == 10_000 * a
    assert parse_expression("-".join(["a"] * 10_000)) == -9_998 * a
    assert parse_expression("/".join(["a"] * 10_000)) == a ** -9_998
    assert time.perf_counter() - start < 10.0


def test_long_chains_of_products_and_mixed_signs() -> None:
    lhs, rhs = parse_claim("*".join(["a"] * 3_000) + " == a**3000")
    assert lhs == rhs
    text = " + ".join(f"{k}*a - a" for k in range(1, 1_501))    # 3,000 terms
    assert parse_expression(text) == (sum(range(1, 1_501)) - 1_500) * a


# The splitting of a long top level must build exactly the tree Python builds: precedence,
# unary signs, left association, positions (error columns come from them).
SAME_TREE = [
    "a - 2*b == c", "-a*b + c", "a*-b", "a - -b", "a**-b*c", "-a**b*c", "a*b//c*d % e / f",
    "f(a, b=1) + x[i + 1]*(y - z) <= 3", "(a) + b", "a + (b + c)", "1e-3 - 2.5*x",
    "u\u02b9 + \u00e9*2", "a == b != c < d", "~a + b", "a.real + 1", "x[1:2] - 3", "a + b # c",
]


@pytest.mark.parametrize("text", SAME_TREE)
def test_splitting_a_long_top_level_builds_pythons_tree(text: str) -> None:
    got = parse._parse_long_chains(text)
    assert got is not None
    assert ast.dump(got, include_attributes=True) == ast.dump(
        ast.parse(text, mode="eval").body, include_attributes=True)


@pytest.mark.parametrize("text", ["a if b else c", "a and b", "a, b", "lambda: 1", "a | b",
                                  "a not in b", "a +\nb"])
def test_a_top_level_that_is_not_a_plain_chain_is_not_split(text: str) -> None:
    assert parse._parse_long_chains(text) is None


def test_errors_in_a_long_chain_keep_their_column() -> None:
    text = "a" + " + a" * 4_000 + " + b.c"
    with pytest.raises(ParseError) as err:
        parse_expression(text)
    assert "attribute access" in str(err.value)
    assert err.value.column == text.index("b.c") + 1
    with pytest.raises(ParseError, match="division by zero"):
        parse_expression("a" + " + a" * 4_000 + " + a/0")


# --- real nesting stays limited ------------------------------------------------------------

def test_nested_brackets_are_still_refused() -> None:
    with pytest.raises(ParseError, match="brackets nested 200 deep"):
        parse_expression("(" * 200 + "a" + ")" * 200)


@pytest.mark.parametrize("text", [
    "-" * 300 + "a",                               # unary signs nest
    "a" + " // a" * 300,                           # each // is a floor around its left side
    "a" + " % a" * 300,                            # each % is a Mod around its left side
    "a" + " ** a" * 300,                           # a power tower
])
def test_real_nesting_without_brackets_is_still_refused(text: str) -> None:
    with pytest.raises(ParseError, match=f"nested more than {MAX_DEPTH * 2} levels deep"):
        parse_expression(text)


def test_a_chain_inside_brackets_is_read_or_cleanly_refused() -> None:
    # Inside brackets the chain is left to Python's parser: it is read where Python builds
    # the tree (3.13 does), otherwise refused with a clear error, never a RecursionError.
    text = "floor((" + "+".join(["a"] * 5_000) + ")/2)"
    try:
        assert parse_expression(text) == sympy.floor(2_500 * a)
    except ParseError as exc:
        assert "nested" in str(exc)


# --- engine quantities ---------------------------------------------------------------------

# One claim per name of the table, with symbols, and the value it must give.
H, K, P, S, D, C, M, L, G = sympy.symbols("H K P S D C M L G")
ENGINE_EXAMPLES = {
    "output_size": ("output_size(H, K, P, S, D)",
                    sympy.floor((H + 2*P - D*(K - 1) - 1) / S) + 1),
    "pool_output_size": ("pool_output_size(H, K, P, S)", sympy.floor((H + 2*P - K) / S) + 1),
    "transposed_output_size": ("transposed_output_size(H, K, P, S)",
                               (H - 1)*S - 2*P + K),
    "receptive_field_size": ("receptive_field_size(L, K)", L*(K - 1) + 1),
    "params_conv": ("params_conv(C, M, K)", C*M*K**2 + M),
    "flops_conv": ("flops_conv(C, M, K, H, groups=G)", 2*C*M*K**2*H**2 / G),
    "macs_conv": ("macs_conv(C, M, K, H)", C*M*K**2*H**2),
}


def test_every_engine_quantity_has_an_example() -> None:
    assert set(ENGINE_EXAMPLES) == set(ENGINE_FUNCTIONS)


@pytest.mark.parametrize("name", sorted(ENGINE_FUNCTIONS))
def test_every_engine_quantity_resolves_and_works_on_symbols(name: str) -> None:
    module, attr = ENGINE_FUNCTIONS[name]
    assert callable(getattr(importlib.import_module(module), attr))
    text, expected = ENGINE_EXAMPLES[name]
    assert sympy.expand(parse_expression(text) - expected) == 0
    assert derive.verify(f"{text} == {expected}").status is derive.Status.PROVED


def test_engine_values_that_are_numbers_are_sympy_numbers() -> None:
    assert parse_expression("output_size(5, 3) ** 2") == 9
    assert parse_expression("params_conv(64, 128, 3)") == 73_856
    assert parse_expression("receptive_field_size(3, 3, 2)") == 15


@pytest.mark.parametrize("text,words", [
    ("output_size(H, 0)", ["output_size()", "kernel=0"]),
    ("params_conv(C, M, K, bias=2)", ["params_conv()", "bias=2"]),
    ("params_conv(C, M, K, foo=1)", ["params_conv()", "'foo'"]),
    ("params_conv(C, M)", ["params_conv()", "'kernel'"]),
    ("flops_conv(C, M, 0, H)", ["flops_conv()", "kernel=0"]),
    ("receptive_field_size(-1, 3)", ["receptive_field_size()", "depth=-1"]),
    ("receptive_field_size(10**9, 3, 3)", ["receptive_field_size()", "depth=1000000000"]),
    ("params_conv(C, M, K, _x=1)", ["'_x'"]),
])
def test_an_engine_refusal_is_a_parse_error_naming_function_and_argument(
        text: str, words: list[str]) -> None:
    with pytest.raises(ParseError) as err:
        parse_expression(text)
    assert all(w in str(err.value) for w in words), str(err.value)


def test_engine_quantities_on_the_command_line(capsys) -> None:
    assert main(["verify", "params_conv(C, M, K) == C*M*K**2 + M"]) == 0
    assert "PROVED" in capsys.readouterr().out
    assert main(["verify", "flops_conv(C, M, K, H) == C*M*K**2*H**2"]) == 1   # 2 FLOPs per MAC
    assert "REFUTED" in capsys.readouterr().out
    assert main(["verify", "output_size(H, 0) == 1"]) == 2
    err = capsys.readouterr().err
    assert "output_size(): got kernel=0" in err and "Traceback" not in err
