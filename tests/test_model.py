"""The indexed-sum model: structure, sizes derived from it, and its expansion against
brute-force loops."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from derive.conv.model import C_, O_, conv_model
from derive.conv.shapes import output_size
from derive.errors import ConfigurationError
from derive.symbols import sym


# ----------------------------------------------------------------- brute force (independent)

def brute_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: tuple[int, ...],
               padding: tuple[int, ...], dilation: tuple[int, ...], groups: int) -> np.ndarray:
    """Direct loops over every window position that fits in the zero-padded input."""
    n_batch, c_in = x.shape[:2]
    c_out, c_group = w.shape[:2]
    spatial = x.shape[2:]
    kernel = w.shape[2:]
    padded = np.zeros((n_batch, c_in) + tuple(s + 2 * p for s, p in zip(spatial, padding)),
                      dtype=object)
    padded[(slice(None), slice(None)) + tuple(slice(p, p + s) for s, p in
                                              zip(spatial, padding))] = x
    starts = []
    for axis in range(len(spatial)):
        pos, i = [], 0
        while stride[axis] * i + dilation[axis] * (kernel[axis] - 1) < padded.shape[2 + axis]:
            pos.append(stride[axis] * i)
            i += 1
        starts.append(pos)
    out = np.zeros((n_batch, c_out) + tuple(len(p) for p in starts), dtype=object)
    per_group_out = c_out // groups
    for n in range(n_batch):
        for o in range(c_out):
            g = o // per_group_out
            for at in itertools.product(*(range(len(p)) for p in starts)):
                total = 0 if b is None else b[o]
                for c in range(c_group):
                    for taps in itertools.product(*(range(k) for k in kernel)):
                        where = tuple(starts[a][at[a]] + dilation[a] * taps[a]
                                      for a in range(len(spatial)))
                        total += w[(o, c) + taps] * padded[(n, g * c_group + c) + where]
                out[(n, o) + at] = total
    return out


# ----------------------------------------------------------------- structure

def test_equation_has_the_documented_shape() -> None:
    m = conv_model(2)
    H, W, K, S, P, D = (sym(x) for x in "HWKSPD")
    assert str(m.window_index(0)) == "D*u + S*i"
    assert str(m.window_index(1)) == "D*v + S*j"
    limits = m.limits()
    assert set(map(str, limits)) == {"c", "u", "v"}
    assert limits[C_] == (0, sym("C_in") - 1)
    assert m.padded_size(0) == H + 2 * P
    assert m.output_shape[:2] == (sym("N"), sym("C_out"))
    assert str(m.equation.lhs) == "y[n, o, i, j]"
    assert m.expr.has(m.b[O_])


def test_grouped_channel_index() -> None:
    m = conv_model(2, in_channels=4, out_channels=6, groups=2)
    channel = m.padded_access().indices[1]
    assert channel == 2 * sympy.floor(O_ / 3) + C_
    assert m.limits()[C_] == (0, 1)
    assert m.weight_shape == (6, 2, sym("K"), sym("K"))


def test_padding_rule_is_zero_outside() -> None:
    m = conv_model(1, size=3, padding=1)
    rule = m.padding_rule().rhs
    i = sympy.Symbol("i", integer=True, nonnegative=True)
    assert rule.subs(i, 0) == 0
    assert str(rule.subs(i, 1)) == "x[n, c, 0]"
    assert rule.subs(i, 4) == 0


def test_axis_view_reads_the_model() -> None:
    view = conv_model(1, kernel=3, stride=2, dilation=1).axis_view(0)
    assert str(view) == "Eq(y[i], Sum(w[u]*x_pad[2*i + u], (u, 0, 2)))"


# ----------------------------------------------------------------- derived sizes

@settings(max_examples=60, deadline=None)
@given(st.integers(1, 30), st.integers(1, 6), st.integers(0, 4), st.integers(1, 4),
       st.integers(1, 3))
def test_derived_size_matches_closed_form(n, k, p, s, d) -> None:
    if d * (k - 1) + 1 > n + 2 * p:
        with pytest.raises(ConfigurationError):
            conv_model(1, size=n, kernel=k, padding=p, stride=s, dilation=d)
        return
    m = conv_model(1, size=n, kernel=k, padding=p, stride=s, dilation=d)
    derived = m.derive_output_size(0)
    assert derived.count == output_size(n, k, p, s, d)
    assert derived.last == derived.count - 1
    # the last window fits, the next one does not
    assert s * derived.last + d * (k - 1) <= n + 2 * p - 1
    assert s * (derived.last + 1) + d * (k - 1) > n + 2 * p - 1


def test_derived_size_is_proved_equal_to_closed_form() -> None:
    from derive.check.engine import check_exprs

    m = conv_model(2)
    for axis, (n, p) in enumerate(((sym("H"), sym("P")), (sym("W"), sym("P")))):
        derived = m.derive_output_size(axis).count
        v = check_exprs(derived, output_size(n, sym("K"), p, sym("S"), sym("D")),
                        assume=[f"{n} + 2*P >= D*(K - 1) + 1"])
        assert v.proved, v.explain()


def test_derived_size_refutes_a_wrong_closed_form() -> None:
    from derive.check.engine import check_exprs

    derived = conv_model(1).derive_output_size(0).count
    H, K, P, S = (sym(x) for x in "HKPS")
    v = check_exprs(derived, sympy.floor((H + 2 * P - K) / S) + 1,
                    assume=["H + 2*P >= D*(K - 1) + 1"])
    assert v.refuted
    assert v.counterexample["D"] >= 2


def test_derivation_steps_are_explained() -> None:
    derived = conv_model(1, kernel=3, padding=1, stride=2, dilation=1).derive_output_size()
    assert isinstance(derived.steps[0].expr, sympy.Eq)
    assert all(step.why for step in derived.steps + derived.chain)
    assert derived.steps[-1].expr == derived.chain[-1].expr == derived.count
    assert derived.count == output_size(sym("H"), 3, 1, 2)
    assert derived.chain[0].expr.doit() == derived.count


# ----------------------------------------------------------------- expansion vs brute force

def test_expand_one_entry() -> None:
    m = conv_model(1, size=4, kernel=3, stride=1, padding=1, dilation=1, batch=1,
                   in_channels=1, out_channels=1, bias=False)
    assert str(m.expand((0, 0, 0))) == "w[0, 0, 1]*x[0, 0, 0] + w[0, 0, 2]*x[0, 0, 1]"
    with pytest.raises(ConfigurationError, match="at="):
        m.expand((0, 0, 4))


@settings(max_examples=15, deadline=None)
@given(st.data())
def test_evaluate_matches_brute_force_2d(data) -> None:
    groups = data.draw(st.sampled_from([1, 2]))
    c_in = groups * data.draw(st.integers(1, 2))
    c_out = groups * data.draw(st.integers(1, 2))
    kh, kw = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 2))
    s = (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2)))
    p = (data.draw(st.integers(0, 1)), data.draw(st.integers(0, 1)))
    d = (data.draw(st.integers(1, 2)), 1)
    h = data.draw(st.integers(max(1, d[0] * (kh - 1) + 1 - 2 * p[0]), 5))
    w_ = data.draw(st.integers(max(1, kw - 2 * p[1]), 4))
    rng = np.random.default_rng(data.draw(st.integers(0, 10_000)))
    x = rng.integers(-3, 4, size=(1, c_in, h, w_)).astype(object)
    w = rng.integers(-3, 4, size=(c_out, c_in // groups, kh, kw)).astype(object)
    b = rng.integers(-3, 4, size=(c_out,)).astype(object)
    m = conv_model(2, size=(h, w_), kernel=(kh, kw), stride=s, padding=p, dilation=d,
                   batch=1, in_channels=c_in, out_channels=c_out, groups=groups)
    got = m.evaluate(x, w, b)
    want = brute_conv(x, w, b, s, p, d, groups)
    assert got.shape == want.shape
    assert (got == want).all()


def test_evaluate_matches_brute_force_1d_exact_rationals() -> None:
    m = conv_model(1, size=7, kernel=3, stride=2, padding=2, dilation=2, batch=2,
                   in_channels=2, out_channels=2, groups=1, bias=False)
    x = np.array([[[sympy.Rational(i + 7 * c + 14 * n, 3) for i in range(7)]
                   for c in range(2)] for n in range(2)], dtype=object)
    w = np.array([[[sympy.Rational(o - c + u, 2) for u in range(3)] for c in range(2)]
                  for o in range(2)], dtype=object)
    got = m.evaluate(x, w)
    assert (got == brute_conv(x, w, None, (2,), (2,), (2,), 1)).all()


# ----------------------------------------------------------------- validation

@pytest.mark.parametrize("kwargs, needle", [
    (dict(in_channels=3, groups=2), "in_channels=3"),
    (dict(out_channels=5, in_channels=2, groups=2), "out_channels=5"),
    (dict(stride=0), "got stride=0"),
    (dict(padding=-1), "got padding=-1"),
    (dict(kernel=(3, 3, 3)), "got kernel="),
    (dict(size=2, kernel=5, padding=1, dilation=1), "kernel=5"),
])
def test_invalid_model(kwargs, needle) -> None:
    dims = 1 if "size" in kwargs else 2
    with pytest.raises(ConfigurationError) as info:
        conv_model(dims, **kwargs)
    assert needle in str(info.value)


def test_expand_needs_concrete_sizes() -> None:
    with pytest.raises(ConfigurationError, match="concrete sizes"):
        conv_model(1).expand((0, 0, 0))
    with pytest.raises(ConfigurationError, match="dims"):
        conv_model(3)
