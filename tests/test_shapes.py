"""Output sizes: golden cases from Dumoulin & Visin, brute-force enumeration of window
positions, symbolic forms and validation messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sympy
from hypothesis import example, given, settings
from hypothesis import strategies as st

from derive.conv.shapes import (
    effective_kernel, full_padding, half_padding, output_size, output_size_argument,
    output_size_derivation, pool_output_size, same_padding, transposed_output_size,
)
from derive.errors import ConfigurationError
from derive.symbols import sym

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
if not REFERENCE.exists():  # layout of a checkout next to the shared folder
    REFERENCE = Path("/work/shared/reference")
CONV_ARITHMETIC = json.loads((REFERENCE / "conv_arithmetic.json").read_text())


# ----------------------------------------------------------------- brute force (independent)

def windows(n: int, k: int, p: int, s: int, d: int) -> list[int]:
    """Start positions (in the padded input) of every window whose taps all lie inside."""
    padded = n + 2 * p
    starts = []
    i = 0
    while s * i < padded:
        taps = [s * i + d * u for u in range(k)]
        if all(0 <= t < padded for t in taps):
            starts.append(s * i)
        i += 1
    return starts


def pool_windows_ceil(n: int, k: int, p: int, s: int, d: int) -> int:
    """Ceil mode: fitting windows, then one partial window if positions at the end of the
    padded input are still uncovered and it starts inside the input or left padding."""
    padded = n + 2 * p
    eff = d * (k - 1) + 1
    count, covered_to, i = 0, -1, 0
    while s * i < padded:
        start = s * i
        if start + eff <= padded:
            count += 1
            covered_to = start + eff - 1
        else:
            if covered_to < padded - 1 and start < n + p:
                count += 1
            break
        i += 1
    return count


sizes = st.integers(1, 40)
kernels = st.integers(1, 7)
strides = st.integers(1, 5)
dilations = st.integers(1, 4)
paddings = st.integers(0, 6)


# ----------------------------------------------------------------- golden cases

@pytest.mark.parametrize("case", CONV_ARITHMETIC["figure_cases"],
                         ids=lambda c: "i{i}k{k}s{s}p{p}".format(**c))
def test_dumoulin_visin_figure_cases(case: dict) -> None:
    o = output_size(case["i"], case["k"], case["p"], case["s"], case.get("d", 1))
    assert o == case["o"]
    if "transposed_o" in case:
        a = (case["i"] + 2 * case["p"] - case["k"]) % case["s"]
        assert a == case["a"]
        assert transposed_output_size(o, case["k"], case["p"], case["s"],
                                      output_padding=a) == case["transposed_o"]


def test_common_cases() -> None:
    assert output_size(224, 7, 3, 2) == 112
    assert output_size(32, 3, 1) == 32
    assert pool_output_size(112, 3, 1, 2) == 56
    assert pool_output_size(5, 2, ceil_mode=True) == 3
    assert transposed_output_size(16, 4, 1, 2) == 32
    assert effective_kernel(3, 2) == 5


# ----------------------------------------------------------------- brute force, hypothesis

@given(sizes, kernels, paddings, strides, dilations)
@example(4, 3, 0, 1, 1)
@example(7, 3, 0, 1, 2)
@example(1, 1, 0, 5, 1)
def test_output_size_matches_window_enumeration(n, k, p, s, d) -> None:
    expected = len(windows(n, k, p, s, d))
    if d * (k - 1) + 1 > n + 2 * p:
        assert expected == 0
        with pytest.raises(ConfigurationError, match="kernel"):
            output_size(n, k, p, s, d)
    else:
        assert output_size(n, k, p, s, d) == expected


@given(sizes, kernels, paddings, strides, dilations, st.booleans())
@example(5, 2, 0, 2, 1, True)
@example(6, 3, 1, 2, 1, True)
@example(7, 2, 1, 2, 1, True)
def test_pool_output_size_matches_enumeration(n, k, p, s, d, ceil_mode) -> None:
    eff = d * (k - 1) + 1
    if p > k // 2 or eff > n + 2 * p:
        return  # covered by the validation tests and the PyTorch cross-check
    got = pool_output_size(n, k, p, s, d, ceil_mode=ceil_mode)
    want = pool_windows_ceil(n, k, p, s, d) if ceil_mode else len(windows(n, k, p, s, d))
    assert got == want


@given(st.integers(1, 12), kernels, paddings, strides, dilations, st.integers(0, 4))
@example(3, 3, 1, 2, 1, 1)
def test_transposed_size_inverts_the_convolution(n, k, p, s, d, a) -> None:
    """The transposed size is a size the convolution maps back to ``n``; without output
    padding it is the smallest one."""
    if a >= s:
        return
    try:
        t = transposed_output_size(n, k, p, s, d, a)
    except ConfigurationError:
        assert (n - 1) * s - 2 * p + d * (k - 1) + a + 1 < 1
        return
    assert len(windows(t, k, p, s, d)) == n
    base = t - a
    if base >= 1:
        assert len(windows(base, k, p, s, d)) == n
        assert base == 1 or len(windows(base - 1, k, p, s, d)) != n


@given(sizes, kernels, strides, dilations)
def test_same_padding_gives_ceil_division(n, k, s, d) -> None:
    left, right = same_padding(n, k, s, d)
    assert 0 <= right - left <= 1
    padded = n + left + right
    count = len(windows(padded, k, 0, s, d))
    assert count == -(-n // s)


@given(sizes, kernels, dilations)
def test_full_and_half_padding(n, k, d) -> None:
    assert len(windows(n, k, full_padding(k, d), 1, d)) == n + d * (k - 1)
    if (d * (k - 1)) % 2 == 0:
        assert len(windows(n, k, half_padding(k, d), 1, d)) == n


# ----------------------------------------------------------------- symbolic forms

def test_symbolic_closed_forms() -> None:
    H, K, P, S, D = (sym(x) for x in "HKPSD")
    o = output_size(H, K, P, S, D)
    assert o == sympy.floor((H + 2 * P - D * (K - 1) - 1) / S) + 1
    assert output_size(H, 3, 1) == H
    assert transposed_output_size(H, K, P, S, D) == (H - 1) * S - 2 * P + D * (K - 1) + 1
    assert isinstance(pool_output_size(H, K, P, S, ceil_mode=True), sympy.Piecewise)


@settings(max_examples=40)
@given(sizes, kernels, paddings, strides, dilations, st.booleans())
def test_symbolic_form_evaluates_to_integer_result(n, k, p, s, d, ceil_mode) -> None:
    H, K, P, S, D = (sym(x) for x in "HKPSD")
    values = {H: n, K: k, P: p, S: s, D: d}
    eff = d * (k - 1) + 1
    if eff <= n + 2 * p:
        assert output_size(H, K, P, S, D).subs(values) == output_size(n, k, p, s, d)
    if eff <= n + 2 * p and p <= k // 2:
        assert pool_output_size(H, K, P, S, D, ceil_mode).subs(values) == pool_output_size(
            n, k, p, s, d, ceil_mode)
    assert transposed_output_size(H, K, P, S, D).subs(values) == (
        (n - 1) * s - 2 * p + d * (k - 1) + 1)


def test_mixed_symbolic_and_numeric() -> None:
    H = sym("H")
    assert output_size(H, 3, 1, 2) == sympy.floor((H - 1) / 2) + 1
    assert output_size(sympy.Integer(5), sympy.Integer(3)) == 3
    assert type(output_size(sympy.Integer(5), sympy.Integer(3))) is int


# ----------------------------------------------------------------- derivation from the model

def test_output_size_derivation_ends_in_the_closed_form() -> None:
    from derive.check.derivation import check_chain

    H, K, P, S, D = (sym(x) for x in "HKPSD")
    steps = output_size_derivation(H, K, P, S, D)
    assert steps[-1][0] == output_size(H, K, P, S, D)
    assert isinstance(steps[0][0], sympy.Sum)
    assert all(isinstance(why, str) and why for _, why in steps)
    verdicts = check_chain([e for e, _ in steps], assume=["H + 2*P >= D*(K - 1) + 1"])
    assert [v.status.value for v in verdicts] == ["proved", "proved"]


@given(sizes, kernels, paddings, strides, dilations)
@settings(max_examples=30, deadline=None)
def test_output_size_derivation_numeric(n, k, p, s, d) -> None:
    if d * (k - 1) + 1 > n + 2 * p:
        with pytest.raises(ConfigurationError):
            output_size_derivation(n, k, p, s, d)
        return
    steps = output_size_derivation(n, k, p, s, d)
    assert steps[0][0].doit() == steps[-1][0] == len(windows(n, k, p, s, d))


def test_output_size_argument() -> None:
    steps = output_size_argument(5, 3, padding=1, stride=2)
    assert [str(e) for e, _ in steps[1:]] == ["(0 <= 2*i) & (2*i + 2 <= 6)", "i <= 2",
                                               "Eq(i_max, 2)", "3"]
    assert "the taps $u$ from $0$ to $2$" in steps[0][1]


# ----------------------------------------------------------------- validation

@pytest.mark.parametrize("call, needle", [
    (lambda: output_size(5, 3, stride=0), "got stride=0"),
    (lambda: output_size(5, 3, padding=-1), "got padding=-1"),
    (lambda: output_size(0, 3), "got n=0"),
    (lambda: output_size(5, 0), "got kernel=0"),
    (lambda: output_size(5, 3, dilation=0), "got dilation=0"),
    (lambda: output_size(2, 3), "got kernel=3"),
    (lambda: output_size(5, 3, dilation=3), "effective width 7"),
    (lambda: output_size(5.0, 3), "got n=5.0"),
    (lambda: output_size(True, 3), "got n=True"),
    (lambda: output_size(sympy.Rational(1, 2), 3), "got n=1/2"),
    (lambda: pool_output_size(5, 2, padding=2), "got padding=2"),
    (lambda: pool_output_size(5, 2, stride=0), "got stride=0"),
    (lambda: transposed_output_size(3, 3, stride=2, output_padding=2), "got output_padding=2"),
    (lambda: transposed_output_size(3, 3, stride=1, dilation=1, output_padding=1),
     "got output_padding=1"),
    (lambda: transposed_output_size(1, 3, padding=2), "got padding=2"),
    (lambda: transposed_output_size(3, 3, output_padding=-1), "got output_padding=-1"),
])
def test_invalid_configurations_name_argument_and_value(call, needle) -> None:
    with pytest.raises(ConfigurationError) as info:
        call()
    assert needle in str(info.value)
    assert isinstance(info.value, ValueError)


def test_output_padding_may_be_below_dilation() -> None:
    # PyTorch accepts output_padding < stride OR output_padding < dilation
    assert transposed_output_size(3, 3, stride=1, dilation=2, output_padding=1) == 8


def test_symbolic_arguments_are_validated_when_decidable() -> None:
    H = sym("H")
    with pytest.raises(ConfigurationError, match="stride"):
        output_size(H, 3, stride=sympy.Integer(0))
    with pytest.raises(ConfigurationError, match="padding"):
        output_size(H, 3, padding=-sym("P") - 1)
