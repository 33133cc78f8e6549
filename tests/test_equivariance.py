"""Translation equivariance: every verdict re-derived with brute-force loop implementations
written here (shifts, convolution, pooling, batch norm, dense), and every counterexample
recomputed from its input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

from derive.conv.equivariance import (
    EPS, batch_norm_eval, batch_norm_train, circular_shift, conv_circular, conv_same_padding,
    conv_strided, dense_layer, exercise_8_22, global_average_pool, max_pool, operator,
    zero_fill_shift,
)
from derive.errors import ConfigurationError, InputError

shifts = st.tuples(st.integers(-7, 7), st.integers(-7, 7))


# ---------------------------------------------------------------- brute-force references
def roll_bf(x: np.ndarray, s: tuple[int, int]) -> np.ndarray:
    H, W = x.shape[-2:]
    out = np.empty_like(x)
    for i in range(H):
        for j in range(W):
            out[..., i, j] = x[..., (i - s[0]) % H, (j - s[1]) % W]
    return out


def translate_bf(x: np.ndarray, s: tuple[int, int]) -> np.ndarray:
    H, W = x.shape[-2:]
    out = np.zeros_like(x)
    for i in range(H):
        for j in range(W):
            if 0 <= i - s[0] < H and 0 <= j - s[1] < W:
                out[..., i, j] = x[..., i - s[0], j - s[1]]
    return out


def conv_bf(x: np.ndarray, w: np.ndarray, stride: int, circular: bool) -> np.ndarray:
    H, W = x.shape
    kh, kw = w.shape
    p, q = (kh - 1) // 2, (kw - 1) // 2
    oh, ow = (H + 2 * p - kh) // stride + 1, (W + 2 * q - kw) // stride + 1
    y = np.zeros((oh, ow))
    for i in range(oh):
        for j in range(ow):
            for u in range(kh):
                for v in range(kw):
                    a, b = stride * i + u - p, stride * j + v - q
                    if circular:
                        y[i, j] += w[u, v] * x[a % H, b % W]
                    elif 0 <= a < H and 0 <= b < W:
                        y[i, j] += w[u, v] * x[a, b]
    return y


def maxpool_bf(x: np.ndarray) -> np.ndarray:
    H, W = x.shape
    return np.array([[max(x[2 * i + u, 2 * j + v] for u in (0, 1) for v in (0, 1))
                      for j in range(W // 2)] for i in range(H // 2)])


def bn_bf(x: np.ndarray, gamma, beta, mean=None, var=None) -> np.ndarray:
    out = np.empty_like(x)
    for c in range(x.shape[1]):
        vals = x[:, c]
        m = vals.sum() / vals.size if mean is None else mean[c]
        v = ((vals - vals.sum() / vals.size) ** 2).sum() / vals.size if var is None else var[c]
        out[:, c] = gamma[c] * (vals - m) / np.sqrt(v + EPS) + beta[c]
    return out


# ---------------------------------------------------------------- shifts
@given(st.integers(1, 5), st.integers(1, 5), shifts)
def test_shift_helpers_match_their_definitions(h: int, w: int, s: tuple[int, int]) -> None:
    x = np.arange(h * w, dtype=float).reshape(h, w) + 1
    assert np.array_equal(circular_shift(x, s), roll_bf(x, s))
    assert np.array_equal(zero_fill_shift(x, s), translate_bf(x, s))
    assert np.array_equal(circular_shift(x[None], s)[0], roll_bf(x, s))


def test_bad_shift_is_refused() -> None:
    with pytest.raises(InputError, match="shift"):
        circular_shift(np.zeros((2, 2)), (1, 2, 3))


# ---------------------------------------------------------------- operators vs brute force
def test_operators_match_brute_force() -> None:
    rng = np.random.default_rng(7)
    cc, cs, cst = conv_circular(), conv_same_padding(), conv_strided()
    x6, x8 = rng.standard_normal((6, 6)), rng.standard_normal((8, 8))
    x4 = rng.standard_normal((4, 4))
    k = cc.params["kernel"]
    assert np.allclose(operator(cc)(x6), conv_bf(x6, k, 1, True))
    assert np.allclose(operator(cs)(x6), conv_bf(x6, cs.params["kernel"], 1, False))
    assert np.allclose(operator(cst)(x8), conv_bf(x8, cst.params["kernel"], 2, True))
    assert np.allclose(operator(max_pool())(x4), maxpool_bf(x4))
    bt, be = batch_norm_train(), batch_norm_eval()
    xb = rng.standard_normal(bt.params["shape"])
    assert np.allclose(operator(bt)(xb), bn_bf(xb, bt.params["gamma"], bt.params["beta"]))
    assert np.allclose(operator(be)(xb), bn_bf(xb, be.params["gamma"], be.params["beta"],
                                               be.params["mean"], be.params["var"]))
    assert np.isclose(float(operator(global_average_pool())(x4)), x4.sum() / 16)
    d = dense_layer()
    x = rng.standard_normal(d.params["shape"])
    assert np.allclose(operator(d)(x).ravel(), d.params["weight"] @ x.ravel())


# ---------------------------------------------------------------- equivariant cases
@example(s=(0, 1))
@given(shifts)
@settings(max_examples=25, deadline=None)
def test_circular_conv_commutes_with_every_shift(s: tuple[int, int]) -> None:
    r = conv_circular()
    x = np.random.default_rng(abs(hash(s)) % 2 ** 32).standard_normal((6, 6))
    k = r.params["kernel"]
    assert np.allclose(conv_bf(roll_bf(x, s), k, 1, True), roll_bf(conv_bf(x, k, 1, True), s))


def test_circular_conv_is_proved() -> None:
    r = conv_circular()
    assert r.holds and r.label == "equivariant" and r.status.value == "proved"
    assert r.counterexample is None and r.numeric_agrees
    assert any(s.verdict is not None and s.verdict.proved for s in r.proof)


@given(st.tuples(st.integers(-3, 3), st.integers(-3, 3)))
@settings(max_examples=20, deadline=None)
def test_strided_ops_are_equivariant_for_even_shifts(half: tuple[int, int]) -> None:
    s = (2 * half[0], 2 * half[1])
    rng = np.random.default_rng(abs(hash(half)) % 2 ** 32)
    x = rng.standard_normal((8, 8))
    k = conv_strided().params["kernel"]
    assert np.allclose(conv_bf(roll_bf(x, s), k, 2, True), roll_bf(conv_bf(x, k, 2, True), half))
    assert np.allclose(maxpool_bf(roll_bf(x, s)), roll_bf(maxpool_bf(x), half))


@given(shifts)
@settings(max_examples=20, deadline=None)
def test_gap_and_batch_norm_under_circular_shifts(s: tuple[int, int]) -> None:
    rng = np.random.default_rng(abs(hash(s)) % 2 ** 32)
    x = rng.standard_normal((3, 2, 4, 5))
    assert np.isclose(roll_bf(x, s).mean(), x.mean())
    bt = batch_norm_train()
    g, b = bt.params["gamma"], bt.params["beta"]
    assert np.allclose(bn_bf(roll_bf(x, s), g, b), roll_bf(bn_bf(x, g, b), s))


@pytest.mark.parametrize("make", [batch_norm_train, batch_norm_eval, global_average_pool])
def test_holding_cases_are_proved(make) -> None:
    r = make()
    assert r.holds and r.counterexample is None and r.status.value == "proved", r.summary()
    assert r.numeric_agrees
    assert all(s.verdict.proved for s in r.proof if s.verdict is not None)
    assert all(c.verdict.proved for c in r.checks)


def test_gap_is_invariant_and_labelled_so() -> None:
    r = global_average_pool()
    assert r.label == "invariant" and "f(x)" in r.statement


# ---------------------------------------------------------------- counterexamples
def _recompute(cex, f) -> None:
    x = np.asarray(cex.input, dtype=float)
    move = roll_bf if cex.shift_kind == "circular" else translate_bf
    assert np.allclose(move(x, cex.shift), cex.shifted_input)
    assert np.allclose(f(x), cex.output)
    assert np.allclose(f(move(x, cex.shift)), cex.output_of_shifted)


@pytest.mark.parametrize("make, bf", [
    (conv_strided, lambda r: lambda x: conv_bf(x, r.params["kernel"], 2, True)),
    (max_pool, lambda r: maxpool_bf),
])
def test_downsampling_counterexample_beats_every_output_shift(make, bf) -> None:
    r = make()
    assert not r.holds and r.status.value == "refuted" and "multiples of 2" in r.label
    cex = r.counterexample
    assert cex.shift == (0, 1)
    f = bf(r)
    _recompute(cex, f)
    fx = f(np.asarray(cex.input, float))
    for t in itertools.product(range(fx.shape[0]), range(fx.shape[1])):
        assert not np.allclose(roll_bf(fx, t), cex.output_of_shifted)
    assert cex.output_shifts_tried == fx.size
    assert r.proof[0].verdict.proved          # the even-shift identity
    assert r.numeric_agrees


def _interior_bf(n: int, k: int, s: int) -> list[int]:
    """Output positions whose windows stay inside the frame on both sides."""
    p = (k - 1) // 2
    good = []
    for i in range(n):
        lhs = all(s <= i + u - p <= n - 1 and 0 <= i + u - p for u in range(k)) if s >= 0 \
            else all(0 <= i + u - p <= n - 1 + s for u in range(k))
        rhs = 0 <= i - s <= n - 1 and all(0 <= i - s + u - p <= n - 1 for u in range(k))
        if lhs and rhs:
            good.append(i)
    return good


@given(st.tuples(st.integers(-2, 2), st.integers(-2, 2)))
@settings(max_examples=20, deadline=None)
def test_same_padding_interior_matches_brute_force(s: tuple[int, int]) -> None:
    r = conv_same_padding(shift=s)
    k = r.params["kernel"]
    for axis in (0, 1):
        lo, hi = r.params["interior"][axis]
        assert list(range(lo, hi + 1)) == _interior_bf(6, k.shape[axis], s[axis])
    x = np.random.default_rng(abs(hash(s)) % 2 ** 32).standard_normal((6, 6))
    lhs = conv_bf(translate_bf(x, s), k, 1, False)
    rhs = translate_bf(conv_bf(x, k, 1, False), s)
    (r0, r1), (c0, c1) = r.params["interior"]
    assert np.allclose(lhs[r0:r1 + 1, c0:c1 + 1], rhs[r0:r1 + 1, c0:c1 + 1])


def test_same_padding_fails_at_the_border() -> None:
    r = conv_same_padding()
    assert not r.holds and r.label.startswith("approximately") and r.status.value == "refuted"
    cex = r.counterexample
    _recompute(cex, lambda x: conv_bf(x, r.params["kernel"], 1, False))
    assert np.allclose(translate_bf(np.asarray(cex.output, float), cex.shift), cex.expected)
    (r0, r1), (c0, c1) = r.params["interior"]
    i, j = cex.position
    assert not (r0 <= i <= r1 and c0 <= j <= c1)
    assert cex.output_of_shifted[i, j] != cex.expected[i, j]
    assert r.proof[1].verdict.proved and r.numeric_agrees


def test_dense_counterexample_with_its_weight_matrix() -> None:
    r = dense_layer()
    W = r.params["weight"]
    assert not r.holds and r.label == "not equivariant"
    cex = r.counterexample
    _recompute(cex, lambda x: (W @ x.ravel()).reshape(x.shape))
    assert not np.allclose(cex.output_of_shifted, roll_bf(np.asarray(cex.output, float), (0, 1)))
    assert r.checks[0].verdict.refuted
    ce = r.checks[0].verdict.counterexample
    assert 0 <= ce["i"] <= ce["n"] - 1       # a genuine output index
    assert r.numeric_agrees                  # circulant W commutes


def test_batch_norm_train_depends_on_the_batch() -> None:
    r = batch_norm_train()
    dep, zf = r.extra
    assert dep.shift_kind == "none" and not np.allclose(dep.output, dep.output_of_shifted)
    g, b = r.params["gamma"], r.params["beta"]
    assert zf.shift_kind == "zero-fill"
    x = np.asarray(zf.input, dtype=float)
    lhs = bn_bf(translate_bf(x, (0, 1)), g, b)
    rhs = translate_bf(bn_bf(x, g, b), (0, 1))
    assert np.allclose(lhs, zf.output_of_shifted) and np.allclose(rhs, zf.expected)
    assert zf.position[-1] >= 1 and not np.isclose(lhs[zf.position], rhs[zf.position])


def test_exercise_8_22_collects_every_case() -> None:
    res = exercise_8_22()
    assert sorted(res) == list("abcdef")
    same, circ = res["a"]
    assert (same.holds, circ.holds) == (False, True)
    assert [res[k].holds for k in "bcef"] == [False, False, True, False]
    train, ev = res["d"]
    assert train.holds and ev.holds and "batch" in train.label
    assert "counterexample" in res["f"].summary()


@pytest.mark.parametrize("call, exc, match", [
    (lambda: conv_circular(kernel=np.ones((2, 2))), ConfigurationError, "odd sides"),
    (lambda: conv_circular(kernel=np.zeros((3, 3))), ConfigurationError, "all-zero"),
    (lambda: conv_strided(stride=1), ConfigurationError, "stride"),
    (lambda: conv_strided(size=7), ConfigurationError, "multiples of the stride"),
    (lambda: max_pool(size=5), ConfigurationError, "even sides"),
    (lambda: batch_norm_train(batch=1), ConfigurationError, "batch"),
    (lambda: dense_layer(shift="1"), InputError, "shift"),
])
def test_bad_arguments(call, exc, match: str) -> None:
    with pytest.raises(exc, match=match):
        call()
