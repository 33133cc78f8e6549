"""The catalogue of common mistakes: each entry named on a hand-written mistaken line, built
against the engine's own closed forms; nothing named on correct or unrelated lines; every
operation a real numeric difference."""

from __future__ import annotations

import functools
import json
import tomllib
from pathlib import Path
from typing import Any, Callable

import pytest
import sympy
from hypothesis import assume as hyp_assume
from hypothesis import given, settings
from hypothesis import strategies as st

from derive.check.engine import check_exprs
from derive.check.parse import parse_expression
from derive.conv.backward import forward, input_gradient
from derive.conv.costs import flops_conv, macs_conv, params_conv
from derive.conv.layers import Layer
from derive.conv.receptive import closed_form_field, receptive_field, receptive_field_size
from derive.conv.shapes import output_size, pool_output_size, transposed_output_size
from derive.grade.mistakes import (
    OPERATIONS, CatalogueError, Mistake, catalogue, in_words, name_mistake, read_catalogue,
)
from derive.symbols import syms

H, K, P, S, D, L = syms("H K P S D L")
C_IN, C_OUT = syms("C_in C_out")
FITS = ("H + 2*P >= D*(K - 1) + 1",)
POOL = ("2*P <= K", "H + 2*P >= K")


def entry(name: str) -> Any:
    return next(e for e in catalogue() if e.name == name)


def named(correct: Any, text: str, assume: tuple[str, ...] = ()) -> str | None:
    found = name_mistake(correct, parse_expression(text), assume)
    return None if found is None else found.name


# --------------------------------------------------------------------------- the engine's forms

@functools.lru_cache(maxsize=None)
def conv_size() -> Any:
    return output_size(H, K, P, S, D)


@functools.lru_cache(maxsize=None)
def ceil_mode_size() -> Any:
    """The ceil_mode rule of pooling where the last window starts inside the input (the
    general branch of the engine's Piecewise)."""
    rule = pool_output_size(H, K, P, S, ceil_mode=True)
    assert isinstance(rule, sympy.Piecewise)
    return rule.args[-1][0]


@functools.lru_cache(maxsize=None)
def input_gradient_unit() -> Any:
    """dL/dx[m] at S = D = 1 as derived by the engine, g read as zero outside its range:
    Sum over u' of w[K - 1 - u'] g[m + P - (K - 1) + u']."""
    derived = input_gradient().result.xreplace({S: 1, D: 1})
    (value, _), _ = derived.function.args
    return sympy.Sum(value, *derived.limits)


@functools.lru_cache(maxsize=None)
def forward_1d() -> Any:
    return forward(1).rhs             # Sum(w[u]*x_pad[D*u + S*i], (u, 0, K - 1))


@functools.lru_cache(maxsize=None)
def receptive_size() -> Any:
    return receptive_field_size(L, K, S)


# --------------------------------------------------------------------------- the catalogue

REQUIRED = {
    "missing-plus-one", "dilation-ignored", "padding-counted-once", "floor-for-ceiling",
    "ceiling-for-floor", "kernel-not-flipped", "sum-range-one-too-long",
    "sum-range-one-too-short", "bias-per-input-channel", "macs-for-flops", "flops-for-macs",
    "receptive-field-without-jump",
}


def test_the_catalogue_holds_the_course_mistakes() -> None:
    entries = catalogue()
    assert {e.name for e in entries} == REQUIRED
    assert catalogue() is entries                      # read once
    for e in entries:
        assert e.title and e.applies and e.feedback.endswith(".")
        assert e.operation.op in OPERATIONS
        assert isinstance(e.mistake, Mistake) and e.mistake.name == e.name


def test_the_json_ships_with_the_package() -> None:
    data = tomllib.loads(Path(__file__).parents[1].joinpath("pyproject.toml").read_text())
    assert "*.json" in data["tool"]["setuptools"]["package-data"]["derive.grade"]


@pytest.mark.parametrize("text, message", [
    ('{"name": "x"}', "must be a list"),
    ('[{"name": "x", "title": "t", "applies": "a", "feedback": "f"}]', "operation"),
    ('[{"name": "x", "title": "t", "applies": "a", "feedback": "f", '
     '"operation": {"op": "rotate"}}]', "op='rotate'"),
    ('[{"name": "x", "title": "t", "applies": "a", "feedback": "f", '
     '"operation": {"op": "subs", "with": {"D": "1 +"}}}]', "cannot read"),
    ('[{"name": "x", "title": "t", "applies": "a", "feedback": "f", '
     '"operation": {"op": "range_shift", "by": 0}}]', "non-zero"),
    ('[{"name": "x", "title": "t", "applies": "a", "feedback": "f", "when": '
     '{"functions": ["sqrt"]}, "operation": {"op": "offset", "add": "1"}}]', "kinds are"),
    ('[{"name": "x", "title": "t", "applies": "a", "feedback": "f", "colour": "red", '
     '"operation": {"op": "offset", "add": "1"}}]', "unknown field"),
    (json.dumps([{"name": "x", "title": "t", "applies": "a", "feedback": "f",
                  "operation": {"op": "offset", "add": "1"}}] * 2), "appears twice"),
])
def test_a_malformed_catalogue_is_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(CatalogueError, match=message):
        read_catalogue(text)


# --------------------------------------------------------------------------- one test per entry

def test_missing_plus_one() -> None:
    assert named(conv_size(), "floor((H + 2*P - D*(K - 1) - 1)/S)", FITS) == "missing-plus-one"


def test_missing_plus_one_in_a_transposed_size() -> None:
    correct = transposed_output_size(H, K, P, S, D)
    assert named(correct, "(H - 1)*S - 2*P + D*(K - 1)") == "missing-plus-one"


def test_dilation_ignored() -> None:
    assert named(conv_size(), "floor((H + 2*P - K)/S) + 1", FITS) == "dilation-ignored"


def test_padding_counted_once() -> None:
    written = "floor((H + P - D*(K - 1) - 1)/S) + 1"
    assert named(conv_size(), written, FITS) == "padding-counted-once"


def test_floor_for_ceiling_with_ceil_mode() -> None:
    assert named(ceil_mode_size(), "floor((H + 2*P - K)/S) + 1", POOL) == "floor-for-ceiling"


def test_ceiling_for_floor() -> None:
    written = "ceiling((H + 2*P - D*(K - 1) - 1)/S) + 1"
    assert named(conv_size(), written, FITS) == "ceiling-for-floor"
    pool = pool_output_size(H, K, P, S)
    assert named(pool, "ceiling((H + 2*P - K)/S) + 1", POOL) == "ceiling-for-floor"


def test_kernel_not_flipped_in_the_input_gradient() -> None:
    written = "Sum(w[u]*g[m + P - (K - 1) + u], (u, 0, K - 1))"
    assert named(input_gradient_unit(), written) == "kernel-not-flipped"


def test_kernel_flipped_in_the_forward_pass() -> None:
    written = "Sum(w[K - 1 - v]*x_pad[S*i + D*v], (v, 0, K - 1))"
    assert named(forward_1d(), written) == "kernel-not-flipped"


def test_sum_range_one_too_long() -> None:
    written = "Sum(w[u]*x_pad[S*i + D*u], (u, 0, K))"
    assert named(forward_1d(), written) == "sum-range-one-too-long"


def test_sum_range_one_too_short() -> None:
    written = "Sum(w[k]*x_pad[S*i + D*k], (k, 0, K - 2))"
    assert named(forward_1d(), written) == "sum-range-one-too-short"


def test_bias_counted_per_input_channel() -> None:
    assert named(params_conv(C_IN, C_OUT, K), "(K*K + 1)*C_in*C_out") == "bias-per-input-channel"
    C, M = syms("C M")
    assert named(params_conv(C, M, K), "C*M*K**2 + C*M") == "bias-per-input-channel"


def test_multiply_adds_given_for_flops() -> None:
    correct = flops_conv(C_IN, C_OUT, K, H)
    assert named(correct, "H*H*K*K*C_in*C_out") == "macs-for-flops"


def test_flops_given_for_multiply_adds() -> None:
    correct = macs_conv(C_IN, C_OUT, K, H)
    assert named(correct, "2*H**2*K**2*C_in*C_out") == "flops-for-macs"


def test_receptive_field_without_the_jump() -> None:
    assert named(receptive_size(), "1 + L*(K - 1)") == "receptive-field-without-jump"
    two = receptive_field([Layer("conv", kernel=K, stride=S)] * 2).size
    assert named(two, "1 + 2*(K - 1)") == "receptive-field-without-jump"
    k1, k2, k3, s1, s2 = syms("K_1 K_2 K_3 S_1 S_2")
    chain = closed_form_field([Layer("conv", kernel=k1, stride=s1),
                               Layer("conv", kernel=k2, stride=s2), Layer("conv", kernel=k3)])
    written = "1 + (K_1 - 1) + (K_2 - 1) + (K_3 - 1)"
    assert named(chain.size, written) == "receptive-field-without-jump"


def test_receptive_field_without_the_jump_in_product_form() -> None:
    # Araujo's closed form as derive.conv.theorems writes it, with a Product of strides
    l, i = (sympy.Symbol(n, integer=True, positive=True) for n in ("l", "i"))
    k, s = sympy.IndexedBase("k"), sympy.IndexedBase("s")
    size = 1 + sympy.Sum((k[l] - 1) * sympy.Product(s[i], (i, 1, l - 1)), (l, 1, L))
    assert named(size, "1 + Sum(k[j] - 1, (j, 1, L))") == "receptive-field-without-jump"


# --------------------------------------------------------------------------- nothing named

CORRECT_LINES: list[tuple[Callable[[], Any], str, tuple[str, ...]]] = [
    (conv_size, "floor((H + 2*P - D*K + D - 1)/S) + 1", FITS),
    (conv_size, "floor((H + 2*P - D*K + D + S - 1)/S)", FITS),
    (ceil_mode_size, "floor((H + 2*P - K + S - 1)/S) + 1", POOL),
    (input_gradient_unit, "Sum(w[K - 1 - t]*g[m + P - K + 1 + t], (t, 0, K - 1))", ()),
    (forward_1d, "Sum(x_pad[S*i + D*u]*w[u], (u, 0, K - 1))", ()),
    (lambda: params_conv(C_IN, C_OUT, K), "(K*K*C_in + 1)*C_out", ()),
    (lambda: flops_conv(C_IN, C_OUT, K, H), "2*(H*K)**2*C_in*C_out", ()),
    # S >= 2: without it the checker flags the divisor S - 1 of the Piecewise's second
    # branch at S = 1, although that branch is not taken there
    (receptive_size, "1 + (K - 1)*Sum(S**j, (j, 0, L - 1))", ("S >= 2",)),
]


@pytest.mark.parametrize("build, text, assume", CORRECT_LINES)
def test_a_correct_line_names_nothing(build: Callable[[], Any], text: str,
                                      assume: tuple[str, ...]) -> None:
    correct = build()
    assert check_exprs(parse_expression(text), correct, assume).status.value in (
        "proved", "tested")
    assert named(correct, text, assume) is None


UNRELATED: list[tuple[Callable[[], Any], str, tuple[str, ...]]] = [
    (conv_size, "floor((H + 2*P - D*(K - 1) - 1)/S) + 2", FITS),         # + 2
    (conv_size, "H + 2*P - D*(K - 1)", FITS),                            # stride forgotten
    (conv_size, "floor((H - 2*P - D*(K - 1) - 1)/S) + 1", FITS),         # padding subtracted
    (conv_size, "floor((H + 2*P - D*K - 1)/S) + 1", FITS),               # D*K, not D*(K - 1)
    (input_gradient_unit, "Sum(w[u]*g[m + u], (u, 0, K - 1))", ()),    # padding dropped
    (forward_1d, "Sum(w[u]*x_pad[i + u], (u, 0, K - 1))", ()),         # stride and dilation
    (lambda: params_conv(C_IN, C_OUT, K), "K*K*C_in*C_out", ()),       # bias forgotten
    (lambda: flops_conv(C_IN, C_OUT, K, H), "2*H*K*C_in*C_out", ()),   # squares forgotten
    (receptive_size, "1 + L*(K - 1)*S", ()),
]


@pytest.mark.parametrize("build, text, assume", UNRELATED)
def test_an_unrelated_wrong_line_names_nothing(build: Callable[[], Any], text: str,
                                               assume: tuple[str, ...]) -> None:
    correct = build()
    assert check_exprs(parse_expression(text), correct, assume).refuted
    assert named(correct, text, assume) is None


def test_an_entry_equal_to_the_correct_form_is_never_named() -> None:
    # with D = 1 the dilation-free form is the correct one: nothing to name
    assert named(conv_size(), "floor((H + 2*P - K)/S) + 1", FITS + ("D <= 1",)) is None
    # at stride 1 rounding is exact: a ceiling is no mistake
    assert named(output_size(H, K, P), "ceiling(H + 2*P - K) + 1") is None


def test_numbers_are_not_named() -> None:
    # 32 - 1 could be any slip; only a symbolic line shows which one
    correct = output_size(32, 3, 1)
    assert name_mistake(correct, sympy.Integer(correct - 1)) is None
    assert name_mistake(sympy.Integer(flops_conv(3, 64, 7, 112)),
                        sympy.Integer(flops_conv(3, 64, 7, 112) // 2)) is None


def test_the_jump_operation_leaves_output_sizes_alone() -> None:
    jump = entry("receptive-field-without-jump")
    assert jump.mistaken(conv_size()) is None                     # the stride divides
    assert jump.mistaken(transposed_output_size(H, K, P, S, D)) is None   # never times K
    assert named(conv_size(), "H + 2*P - D*(K - 1)", FITS) is None


def test_the_flip_acts_on_the_kernel_only() -> None:
    flipped = entry("kernel-not-flipped").mistaken(input_gradient_unit())
    g_indices = {i.indices for i in flipped.atoms(sympy.Indexed) if str(i.base) == "g"}
    assert g_indices == {i.indices for i in input_gradient_unit().atoms(sympy.Indexed)
                         if str(i.base) == "g"}


def test_scaling_is_kept_to_counts() -> None:
    macs = entry("macs-for-flops")
    assert macs.mistaken(conv_size()) is None                     # floors: a size, not a count
    assert macs.mistaken(forward_1d()) is None


def test_the_budget_is_capped() -> None:
    written = parse_expression("floor((H + 2*P - K)/S) + 1")
    found = name_mistake(conv_size(), written, FITS, budget=60.0)
    assert found is not None and found.name == "dilation-ignored"


# --------------------------------------------------------------------------- in words

def test_in_words_sorts_the_names_and_keeps_the_values() -> None:
    text = in_words({"S": 2, "P": 0, "K": 3, "H": 5}, 3, 2)
    assert text == "with H = 5, K = 3, P = 0, S = 2 your line gives 3; the previous line gives 2"
    text = in_words({"x": sympy.Rational(1, 2)}, "1/3", 0, written_label="line 4",
                    correct_label="the answer")
    assert text == "with x = 1/2 line 4 gives 1/3; the answer gives 0"


# --------------------------------------------------------------------------- real differences

def _value(expr: Any, values: dict[str, int]) -> Any:
    """``expr`` at the values (by symbol name), sums done; arrays stay formal, so two sums
    differ exactly when their polynomials in the array entries do."""
    point = {s: values[s.name] for s in expr.free_symbols
             if isinstance(s, sympy.Symbol) and s.name in values}
    return sympy.expand(sympy.sympify(expr).xreplace(point).doit())


small = st.integers(1, 9)
pad = st.integers(0, 4)


def _size_point(draw: Any, **fixed: Any) -> dict[str, int]:
    point = {"H": draw(small), "K": draw(small), "P": draw(pad), "S": draw(small),
             "D": draw(small)}
    point.update({k: draw(v) if isinstance(v, st.SearchStrategy) else v
                  for k, v in fixed.items()})
    return point


@st.composite
def visible(draw: Any, name: str) -> tuple[Any, dict[str, int]]:
    """A correct expression for entry ``name`` and a point where the mistake must show."""
    if name == "missing-plus-one":
        return conv_size(), _size_point(draw)
    if name == "dilation-ignored":
        return conv_size(), _size_point(draw, S=1, D=st.integers(2, 5), K=st.integers(2, 6))
    if name == "padding-counted-once":
        return conv_size(), _size_point(draw, S=1, P=st.integers(1, 4))
    if name in ("ceiling-for-floor", "floor-for-ceiling"):
        point = _size_point(draw, S=st.integers(2, 5), D=1)
        span = point["H"] + 2 * point["P"] - point["K"]
        hyp_assume(span % point["S"] != 0)
        return (conv_size() if name == "ceiling-for-floor" else ceil_mode_size()), point
    if name == "kernel-not-flipped":
        return input_gradient_unit(), {"K": draw(st.integers(2, 6)), "P": draw(pad),
                                       "m": draw(st.integers(0, 8))}
    if name.startswith("sum-range"):
        return forward_1d(), {"K": draw(st.integers(1, 6)), "S": draw(small),
                              "D": draw(small), "i": draw(st.integers(0, 5))}
    if name == "bias-per-input-channel":
        return params_conv(C_IN, C_OUT, K), {"C_in": draw(st.integers(2, 64)),
                                             "C_out": draw(st.integers(1, 64)),
                                             "K": draw(small)}
    if name == "macs-for-flops":
        return flops_conv(C_IN, C_OUT, K, H), {"C_in": draw(small), "C_out": draw(small),
                                               "K": draw(small), "H": draw(small)}
    if name == "flops-for-macs":
        return macs_conv(C_IN, C_OUT, K, H), {"C_in": draw(small), "C_out": draw(small),
                                              "K": draw(small), "H": draw(small)}
    if name == "receptive-field-without-jump":
        return receptive_size(), {"L": draw(st.integers(2, 6)), "K": draw(st.integers(2, 7)),
                                  "S": draw(st.integers(2, 4))}
    raise AssertionError(f"no instances for {name}")


@pytest.mark.parametrize("name", sorted(REQUIRED))
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_every_mistaken_form_differs_from_the_correct_one(name: str, data: Any) -> None:
    correct, point = data.draw(visible(name))
    mistaken = entry(name).mistaken(correct)
    assert mistaken is not None
    assert _value(mistaken, point) != _value(correct, point), (name, point)
