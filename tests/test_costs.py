"""Parameter and FLOP closed forms against brute-force counting, and the cost theorems.

The brute-force counters below never use the closed forms: they enumerate the windows that
fit in the padded input, the (output channel, input channel) pairs a group connects, and the
kernel taps, and count one multiply-add per visited term.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
import sympy
from hypothesis import example, given, settings
from hypothesis import strategies as st

from derive.check.verdict import Status
from derive.conv import costs
from derive.conv.costs import (
    Cost, adaptive_avg_pool_cost, avg_pool_cost, batch_norm_cost, conv_cost, dense_cost,
    depthwise_cost, depthwise_separable_cost, dilated_conv_cost, global_avg_pool_cost,
    max_pool_cost, pointwise_cost, transposed_conv_cost,
)
from derive.errors import InputError, UnsupportedError
from derive.symbols import sym

SETTINGS = settings(max_examples=60, deadline=None)


# -- brute-force counters --------------------------------------------------------------------

def window_starts(n: int, k: int, pad: int, stride: int, dilation: int) -> list[int]:
    """Start indices (in padded coordinates) of every window that fits in the padded input."""
    last = n + 2 * pad - 1
    return [i for i in range(0, n + 2 * pad) if i % stride == 0 and i + dilation * (k - 1) <= last]


def brute_conv(h: int, w: int, c_in: int, c_out: int, kh: int, kw: int, stride: int = 1,
               pad: int = 0, dilation: int = 1, groups: int = 1, bias: bool = True
               ) -> tuple[int, int, tuple[int, int]]:
    """(params, multiply-adds, output size) by enumeration."""
    rows = window_starts(h, kh, pad, stride, dilation)
    cols = window_starts(w, kw, pad, stride, dilation)
    cin_g, cout_g = c_in // groups, c_out // groups
    connected = [(o, c) for o in range(c_out) for c in range(c_in) if o // cout_g == c // cin_g]
    weights = {(o, c, a, b) for o, c in connected for a in range(kh) for b in range(kw)}
    macs = 0
    for _r in rows:
        for _c in cols:
            for _o, _ci in connected:
                for _a in range(kh):
                    for _b in range(kw):
                        macs += 1
    return len(weights) + (c_out if bias else 0), macs, (len(rows), len(cols))


def brute_transposed(n: int, k: int, stride: int, dilation: int, output_padding: int,
                     c_in: int, c_out: int) -> int:
    """Multiply-adds of a transposed convolution (padding 0) run as the equivalent direct
    convolution over the zero-inserted, zero-padded input, counting only the terms whose
    input value is a real input element (2-D, square)."""
    # real elements sit at positions border + i*stride of the expanded axis
    border = dilation * (k - 1)
    length = (n - 1) * stride + 1 + 2 * border + output_padding
    real = {border + i * stride for i in range(n)}
    out = length - border
    taps = 0
    for y in range(out):
        for x in range(out):
            for a in range(k):
                for b in range(k):
                    if y + a * dilation in real and x + b * dilation in real:
                        taps += 1
    return taps * c_in * c_out


# -- closed forms vs brute force --------------------------------------------------------------

@st.composite
def conv_configs(draw: st.DrawFn) -> dict[str, int]:
    groups = draw(st.integers(1, 3))
    k = draw(st.integers(1, 3))
    d = draw(st.integers(1, 2))
    pad = draw(st.integers(0, 2))
    n = draw(st.integers(max(1, d * (k - 1) + 1 - 2 * pad), 7))
    return {"h": n, "w": draw(st.integers(max(1, d * (k - 1) + 1 - 2 * pad), 7)), "k": k,
            "stride": draw(st.integers(1, 3)), "pad": pad, "dilation": d, "groups": groups,
            "c_in": groups * draw(st.integers(1, 2)), "c_out": groups * draw(st.integers(1, 2)),
            "bias": draw(st.booleans())}


@SETTINGS
@given(conv_configs(), st.sampled_from(["mac", "flop2"]))
@example({"h": 5, "w": 5, "k": 3, "stride": 2, "pad": 1, "dilation": 1, "groups": 1,
          "c_in": 2, "c_out": 2, "bias": True}, "mac")
def test_conv_cost_matches_enumeration(cfg: dict[str, int], convention: str) -> None:
    params, macs, out = brute_conv(cfg["h"], cfg["w"], cfg["c_in"], cfg["c_out"], cfg["k"],
                                   cfg["k"], cfg["stride"], cfg["pad"], cfg["dilation"],
                                   cfg["groups"], cfg["bias"])
    cost = dilated_conv_cost(cfg["c_in"], cfg["c_out"], cfg["k"], (cfg["h"], cfg["w"]),
                             dilation=cfg["dilation"], stride=cfg["stride"], padding=cfg["pad"],
                             groups=cfg["groups"], bias=cfg["bias"], convention=convention)
    factor = 2 if convention == "flop2" else 1
    assert (cost.params, cost.flops) == (params, factor * macs)
    assert conv_cost(cfg["c_in"], cfg["c_out"], cfg["k"], out, groups=cfg["groups"],
                     bias=cfg["bias"], convention=convention) == cost


@SETTINGS
@given(n=st.integers(1, 4), k=st.integers(1, 3), stride=st.integers(1, 3),
       dilation=st.integers(1, 2), c_in=st.integers(1, 2), c_out=st.integers(1, 2),
       data=st.data())
def test_transposed_cost_matches_direct_form(n: int, k: int, stride: int, dilation: int,
                                             c_in: int, c_out: int, data: st.DataObject) -> None:
    output_padding = data.draw(st.integers(0, max(stride, dilation) - 1))
    cost = transposed_conv_cost(c_in, c_out, k, n, bias=False, convention="mac")
    assert cost.flops == brute_transposed(n, k, stride, dilation, output_padding, c_in, c_out)
    assert cost.params == c_in * c_out * k * k


@SETTINGS
@given(c=st.integers(1, 4), k=st.integers(1, 3), n=st.integers(3, 7), m=st.integers(1, 3))
def test_depthwise_pointwise_and_separable(c: int, k: int, n: int, m: int) -> None:
    out = n - k + 1
    dp, dm, _ = brute_conv(n, n, c, c * m, k, k, groups=c, bias=False)
    assert (depthwise_cost(c, k, out, multiplier=m, bias=False, convention="mac").params,
            depthwise_cost(c, k, out, multiplier=m, bias=False, convention="mac").flops) == (dp, dm)
    pp, pm, _ = brute_conv(out, out, c, m, 1, 1, bias=True)
    pw = pointwise_cost(c, m, out, convention="mac")
    assert (pw.params, pw.flops) == (pp, pm)
    # the separable/standard ratio, counted by enumeration, is 1/C_out + 1/k^2
    _, sep_dw, _ = brute_conv(n, n, c, c, k, k, groups=c, bias=False)
    _, sep_pw, _ = brute_conv(out, out, c, m, 1, 1, bias=False)
    _, std, _ = brute_conv(n, n, c, m, k, k, bias=False)
    assert Fraction(sep_dw + sep_pw, std) == Fraction(1, m) + Fraction(1, k * k)
    sep = depthwise_separable_cost(c, m, k, out, convention="mac")
    assert sep.flops == sep_dw + sep_pw


@SETTINGS
@given(n_in=st.integers(1, 30), n_out=st.integers(1, 30), bias=st.booleans())
def test_dense_cost_matches_enumeration(n_in: int, n_out: int, bias: bool) -> None:
    pairs = sum(1 for _i in range(n_in) for _o in range(n_out))
    cost = dense_cost(n_in, n_out, bias=bias, convention="flop2")
    assert cost.params == pairs + (n_out if bias else 0)
    assert cost.flops == 2 * pairs and cost.macs == pairs


@SETTINGS
@given(c=st.integers(1, 5), n=st.integers(3, 8), k=st.integers(1, 3), s=st.integers(1, 3))
def test_pooling_costs_match_enumeration(c: int, n: int, k: int, s: int) -> None:
    starts = window_starts(n, k, 0, s, 1)
    windows = c * len(starts) ** 2
    out = len(starts)
    assert max_pool_cost(c, k, out, convention="mac") == Cost(0, 0, "mac",
                                                               comparisons=windows * (k * k - 1))
    assert avg_pool_cost(c, k, out, convention="flop2").flops == 2 * windows * k * k
    assert global_avg_pool_cost(c, n, convention="mac").flops == c * n * n


@SETTINGS
@given(n=st.integers(1, 12), m=st.integers(1, 12))
def test_adaptive_pool_taps(n: int, m: int) -> None:
    # PyTorch's windows, enumerated: cell i covers j with i*n <= (j+1)*m - 1 ... written as
    # the set of j whose scaled interval [j*m, (j+1)*m) meets [i*n, (i+1)*n)
    taps = sum(1 for i in range(m) for j in range(n)
               if j * m < (i + 1) * n and (j + 1) * m > i * n)
    assert adaptive_avg_pool_cost(1, (n, 1), (m, 1), convention="mac").flops == taps


def test_batch_norm_learnable_vs_buffers() -> None:
    cost = batch_norm_cost(64, (3, 5), convention="mac")
    assert (cost.params, cost.buffers, cost.flops) == (128, 128, 64 * 15)
    frozen = batch_norm_cost(64, 4, affine=False, convention="mac")
    assert (frozen.params, frozen.buffers) == (0, 128)
    assert batch_norm_cost(8, 2, track_running_stats=False, convention="mac").buffers == 0


# -- symbolic and numeric agree ---------------------------------------------------------------

@SETTINGS
@given(c_in=st.integers(1, 64), c_out=st.integers(1, 64), k=st.integers(1, 7),
       h=st.integers(1, 50), w=st.integers(1, 50), bias=st.booleans(),
       convention=st.sampled_from(["mac", "flop2"]))
def test_symbolic_closed_form_evaluates_to_numeric(c_in: int, c_out: int, k: int, h: int,
                                                   w: int, bias: bool, convention: str) -> None:
    names = ("C_in", "C_out", "k", "H_out", "W_out")
    symbolic = conv_cost(*(sym(n) for n in names[:3]), (sym("H_out"), sym("W_out")), bias=bias,
                         convention=convention)
    values = dict(zip((sym(n) for n in names), (c_in, c_out, k, h, w)))
    numeric = conv_cost(c_in, c_out, k, (h, w), bias=bias, convention=convention)
    assert symbolic.params.subs(values) == numeric.params
    assert symbolic.flops.subs(values) == numeric.flops
    assert isinstance(numeric.params, int) and isinstance(numeric.flops, int)


def test_symbolic_forms_are_the_textbook_ones() -> None:
    c_in, c_out, k, h, g = sym("C_in"), sym("C_out"), sym("k"), sym("H"), sym("g")
    cost = conv_cost(c_in, c_out, k, h, groups=g, convention="mac")
    assert sympy.simplify(cost.params - (c_out * c_in * k**2 / g + c_out)) == 0
    assert sympy.simplify(cost.flops - h**2 * c_out * c_in * k**2 / g) == 0
    dw = depthwise_cost(c_in, k, h, bias=False, convention="flop2")
    assert dw.flops == 2 * c_in * k**2 * h**2


def test_dilation_changes_flops_never_params() -> None:
    a = dilated_conv_cost(8, 8, 3, 20, dilation=1, convention="mac")
    b = dilated_conv_cost(8, 8, 3, 20, dilation=3, convention="mac")
    assert a.params == b.params and b.flops < a.flops


# -- the Cost object and validation ------------------------------------------------------------

def test_cost_arithmetic_and_conventions() -> None:
    a = conv_cost(3, 4, 3, 5, convention="mac")
    assert a.to("flop2").flops == 2 * a.flops and a.to("flop2").to("mac") == a
    assert (a + a).params == 2 * a.params
    with pytest.raises(InputError, match="conventions 'mac' and 'flop2'"):
        _ = a + a.to("flop2")
    assert "multiply-adds" in a.describe()
    assert "1 multiply-add = 2 FLOPs" in a.to("flop2").describe()


@pytest.mark.parametrize("call, message", [
    (lambda: conv_cost(3, 4, 0, 5, convention="mac"), "got kernel=0"),
    (lambda: conv_cost(3, 4, 3, 5, groups=2, convention="mac"), "groups must divide in_channels"),
    (lambda: conv_cost(4, 3, 3, 5, groups=2, convention="mac"), "groups must divide out_channels"),
    (lambda: conv_cost(3, 4, 3, 5, convention="flops"), "got convention='flops'"),
    (lambda: dense_cost(0, 4, convention="mac"), "got in_features=0"),
    (lambda: conv_cost(3, 4, (3, 3, 3), 5, convention="mac"), "one value or a pair"),
])
def test_bad_arguments_are_named(call, message: str) -> None:
    with pytest.raises(InputError, match=message):
        call()


def test_convention_is_required() -> None:
    with pytest.raises(TypeError):
        conv_cost(3, 4, 3, 5)  # type: ignore[call-arg]


def test_adaptive_pool_rejects_symbols() -> None:
    with pytest.raises(UnsupportedError):
        adaptive_avg_pool_cost(4, sym("H"), 2, convention="mac")


# -- theorems ---------------------------------------------------------------------------------

@pytest.mark.parametrize("theorem", costs.cost_theorems(), ids=lambda t: t.name)
def test_theorems_are_proved_step_by_step(theorem: costs.CostIdentity) -> None:
    assert theorem.check().status is Status.PROVED
    verdicts = theorem.check_steps()
    assert len(verdicts) == len(theorem.steps) - 1
    assert all(v.status is Status.PROVED for v in verdicts)


def test_theorem_values() -> None:
    c_out, k = sym("C_out"), sym("k")
    assert sympy.simplify(costs.separable_ratio().rhs - (1 / c_out + 1 / k**2)) == 0
    assert costs.stacked_3x3_vs_5x5().rhs == sympy.Rational(18, 25)
    assert costs.stacked_3x3_vs_5x5("flops").rhs == sympy.Rational(18, 25)
    assert costs.bottleneck_vs_basic().rhs == sympy.Rational(17, 288)
    assert costs.ratio_value(costs.inverted_vs_standard_residual(), C=32, t=6) == \
        sympy.Rational(73, 96)
    assert costs.ratio_value(costs.separable_ratio(), C_out=512, k=3) == \
        sympy.Rational(1, 512) + sympy.Rational(1, 9)


def test_wrong_ratios_are_refuted() -> None:
    from derive.check.engine import check_exprs
    t = costs.separable_ratio()
    assert check_exprs(t.lhs, 1 / sym("C_out") + 1 / sym("k")).status is Status.REFUTED
    s = costs.stacked_3x3_vs_5x5()
    assert check_exprs(s.lhs, sympy.Rational(9, 25)).status is Status.REFUTED
    w = costs.flop_scaling("width")
    assert check_exprs(w.lhs, w.rhs / sym("w")).status is Status.REFUTED  # linear in width


def test_ratios_against_brute_force_counts() -> None:
    # bottleneck (C=4m) vs basic block, parameters by enumeration, m = 4
    m = 4
    c = 4 * m
    bottleneck = (brute_conv(1, 1, c, m, 1, 1, bias=False)[0]
                  + brute_conv(3, 3, m, m, 3, 3, bias=False)[0]
                  + brute_conv(1, 1, m, c, 1, 1, bias=False)[0])
    basic = 2 * brute_conv(3, 3, c, c, 3, 3, bias=False)[0]
    assert Fraction(bottleneck, basic) == Fraction(17, 288)
    # inverted residual vs standard residual at C=32, t=6 (exercise 8.20(b)): 14016 vs 18432
    ch, t = 32, 6
    inverted = (pointwise_cost(ch, t * ch, 1, bias=False, convention="mac").params
                + brute_conv(3, 3, t * ch, t * ch, 3, 3, groups=t * ch, bias=False)[0]
                + pointwise_cost(t * ch, ch, 1, bias=False, convention="mac").params)
    assert (inverted, 2 * brute_conv(3, 3, ch, ch, 3, 3, bias=False)[0]) == (14016, 18432)


@pytest.mark.parametrize("which, factor", [("depth", 3), ("width", 4), ("resolution", 4),
                                           ("compound", 3 * 4 * 4)])
def test_flop_scaling_numerically(which: str, factor: int) -> None:
    # a plain 'same' network of L=2 layers, C=3, k=3 on 5x5; scale by d=3, w=2, r=2
    base = brute_conv(5, 5, 3, 3, 3, 3, pad=1, bias=False)[1] * 2
    d, w, r = {"depth": (3, 1, 1), "width": (1, 2, 1), "resolution": (1, 1, 2),
               "compound": (3, 2, 2)}[which]
    scaled = brute_conv(5 * r, 5 * r, 3 * w, 3 * w, 3, 3, pad=1, bias=False)[1] * 2 * d
    assert scaled == factor * base
    t = costs.flop_scaling(which)
    values = {sym("C"): 3, sym("k"): 3, sym("H"): 5, sym("W"): 5, sym("L"): 2, sym("d"): d,
              sym("w"): w, sym("r"): r}
    assert t.lhs.subs(values) == scaled


def test_exercise_8_3_counts() -> None:
    # exercise 8.3: stated layers, counted by enumeration of weights
    assert conv_cost(3, 64, 7, 1, convention="mac").params == brute_conv(
        7, 7, 3, 64, 7, 7)[0] == 9472
    assert conv_cost(64, 128, 3, 1, convention="mac").params == 73856
    assert conv_cost(256, 256, 3, 1, groups=256, convention="mac").params == 2560
    assert pointwise_cost(256, 512, 1, convention="mac").params == 131584
