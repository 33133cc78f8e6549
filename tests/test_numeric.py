"""derive.numeric: the implementations agree with each other, with brute force written
here, and the derived gradients agree with central finite differences."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from typing import Any, Iterator

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from derive import numeric as nm
from derive.errors import ConfigurationError, InputError
from derive.numeric import conv as conv_module

SETTINGS = settings(max_examples=40, deadline=None)


# -- strategies -------------------------------------------------------------------------------

def _pair_or_int(a: int, b: int) -> Any:
    return a if a == b else (a, b)


@st.composite
def conv_cases(draw: Any, max_groups: int = 2, max_extra: int = 4) -> dict[str, Any]:
    """A random valid convolution: arrays plus stride/padding/dilation/groups."""
    groups = draw(st.integers(1, max_groups))
    c_group, o_group = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    n = draw(st.integers(1, 2))
    kernel = [draw(st.integers(1, 3)) for _ in range(2)]
    stride = [draw(st.integers(1, 3)) for _ in range(2)]
    padding = [draw(st.integers(0, 2)) for _ in range(2)]
    dilation = [draw(st.integers(1, 2)) for _ in range(2)]
    size = []
    for k, p, d in zip(kernel, padding, dilation):
        smallest = max(1, d * (k - 1) + 1 - 2 * p)       # the dilated kernel just fits
        size.append(draw(st.integers(smallest, smallest + max_extra)))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    return {
        "x": rng.standard_normal((n, groups * c_group, size[0], size[1])),
        "w": rng.standard_normal((groups * o_group, c_group, kernel[0], kernel[1])),
        "b": rng.standard_normal(groups * o_group) if draw(st.booleans()) else None,
        "stride": _pair_or_int(*stride),
        "padding": _pair_or_int(*padding),
        "dilation": _pair_or_int(*dilation),
        "groups": groups,
    }


def _params(case: dict[str, Any]) -> dict[str, Any]:
    return {k: case[k] for k in ("stride", "padding", "dilation", "groups")}


# -- forward: three evaluations of one definition ---------------------------------------------

@contextlib.contextmanager
def _layout(wide: bool, chunk_bytes: int) -> Iterator[None]:
    """Force conv2d's patch layout (row runs or exact) and its chunk size."""
    saved = conv_module._WIDE_MAX_WASTE, conv_module._CHUNK_BYTES
    conv_module._WIDE_MAX_WASTE = float("inf") if wide else -1.0
    conv_module._CHUNK_BYTES = chunk_bytes
    try:
        yield
    finally:
        conv_module._WIDE_MAX_WASTE, conv_module._CHUNK_BYTES = saved


# chunk_bytes=1: one sample per chunk; 10**9: the whole batch in one product
@pytest.mark.parametrize("wide, chunk_bytes", [(True, 1), (True, 10 ** 9), (False, 1),
                                                (False, 10 ** 9)])
@SETTINGS
@given(case=conv_cases())
def test_im2col_direct_and_toeplitz_agree(wide: bool, chunk_bytes: int,
                                          case: dict[str, Any]) -> None:
    with _layout(wide, chunk_bytes):
        fast = nm.conv2d(case["x"], case["w"], case["b"], **_params(case))
    loops = nm.conv2d_direct(case["x"], case["w"], case["b"], **_params(case))
    sparse = nm.conv2d_toeplitz(case["x"], case["w"], case["b"], **_params(case))
    assert fast.shape == loops.shape == sparse.shape
    np.testing.assert_allclose(fast, loops, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sparse, loops, rtol=1e-12, atol=1e-12)


def test_direct_matches_a_hand_computed_case() -> None:
    # 3x3 input, 2x2 kernel, stride 1, padding 1: corners see one tap, the centre four.
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    w = np.array([[[[1.0, 10.0], [100.0, 1000.0]]]])
    y = nm.conv2d_direct(x, w, padding=1)
    assert y.shape == (1, 1, 4, 4)
    assert y[0, 0, 0, 0] == 1000.0 * 1           # only w[1,1] lands on x[0,0]
    assert y[0, 0, 1, 1] == 1 * 1 + 10 * 2 + 100 * 4 + 1000 * 5
    assert y[0, 0, 3, 3] == 1.0 * 9              # only w[0,0] lands on x[2,2]


@pytest.mark.parametrize("i, k, s, p, d, o", [
    # figure cases of Dumoulin & Visin (arXiv:1603.07285): input i, kernel k, stride s,
    # padding p, dilation d, output o
    (4, 3, 1, 0, 1, 2), (5, 4, 1, 2, 1, 6), (5, 3, 1, 1, 1, 5), (5, 3, 1, 2, 1, 7),
    (5, 3, 2, 0, 1, 2), (5, 3, 2, 1, 1, 3), (6, 3, 2, 1, 1, 3), (7, 3, 1, 0, 2, 3),
])
def test_output_sizes_of_the_published_figures(i: int, k: int, s: int, p: int, d: int,
                                               o: int) -> None:
    y = nm.conv2d(np.ones((1, 1, i, i)), np.ones((1, 1, k, k)), stride=s, padding=p,
                  dilation=d)
    assert y.shape == (1, 1, o, o)


def test_integer_inputs_are_computed_in_float64() -> None:
    x = np.arange(16).reshape(1, 1, 4, 4)
    w = np.ones((1, 1, 2, 2), dtype=np.int64)
    for f in (nm.conv2d, nm.conv2d_direct, nm.conv2d_toeplitz):
        y = f(x, w)
        assert y.dtype == np.float64
        assert y[0, 0, 0, 0] == 0 + 1 + 4 + 5


def test_float32_stays_float32() -> None:
    x = np.ones((2, 3, 5, 5), dtype=np.float32)
    w = np.ones((4, 3, 3, 3), dtype=np.float32)
    assert nm.conv2d(x, w, padding=1).dtype == np.float32
    assert np.all(nm.conv2d(x, w, padding=1)[:, :, 2, 2] == 27.0)


# -- im2col ----------------------------------------------------------------------------------

def _im2col_brute(x: np.ndarray, k: int, p: int, s: int, d: int) -> np.ndarray:
    c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (p, p), (p, p)))
    h_out = (h + 2 * p - d * (k - 1) - 1) // s + 1
    w_out = (w + 2 * p - d * (k - 1) - 1) // s + 1
    cols = np.zeros((c * k * k, h_out * w_out))
    for ci in range(c):
        for i in range(k):
            for j in range(k):
                for oh in range(h_out):
                    for ow in range(w_out):
                        cols[(ci * k + i) * k + j, oh * w_out + ow] = \
                            xp[ci, oh * s + i * d, ow * s + j * d]
    return cols


@SETTINGS
@given(st.integers(1, 3), st.integers(1, 3), st.integers(0, 2), st.integers(1, 3),
       st.integers(1, 2), st.integers(0, 4), st.integers(0, 2 ** 32 - 1))
def test_im2col_entries_match_the_definition(c: int, k: int, p: int, s: int, d: int,
                                             extra: int, seed: int) -> None:
    size = max(1, d * (k - 1) + 1 - 2 * p) + extra
    x = np.random.default_rng(seed).standard_normal((c, size, size))
    np.testing.assert_array_equal(nm.im2col_numeric(x, k, p, s, d),
                                  _im2col_brute(x, k, p, s, d))


@SETTINGS
@given(conv_cases(max_groups=1))
def test_kernel_row_times_patch_matrix_is_the_convolution(case: dict[str, Any]) -> None:
    x, w = case["x"], case["w"]
    cols = nm.im2col_numeric(x, w.shape[2:], case["padding"], case["stride"],
                             case["dilation"])                    # batched: (N, CKK, L)
    y = nm.conv2d_direct(x, w, **_params(case))
    product = np.einsum("ok,nkl->nol", w.reshape(w.shape[0], -1), cols)
    np.testing.assert_allclose(product, y.reshape(product.shape), atol=1e-12)
    np.testing.assert_array_equal(cols[0], nm.im2col_numeric(x[0], w.shape[2:],
                                                             case["padding"], case["stride"],
                                                             case["dilation"]))


def test_im2col_shape_of_the_practice_example() -> None:
    # (C*kh*kw, H_out*W_out) for a 3-channel 32x32 input and a 3x3 kernel, padding 1
    assert nm.im2col_numeric(np.zeros((3, 32, 32)), 3, padding=1).shape == (27, 1024)


# -- 1-D ---------------------------------------------------------------------------------------

@SETTINGS
@given(st.lists(st.floats(-5, 5), min_size=1, max_size=9),
       st.lists(st.floats(-5, 5), min_size=1, max_size=4),
       st.integers(1, 3), st.integers(0, 2), st.integers(1, 2))
def test_conv1d_matches_numpy_correlate(signal: list[float], kernel: list[float], s: int,
                                        p: int, d: int) -> None:
    span = d * (len(kernel) - 1) + 1
    if span > len(signal) + 2 * p:
        with pytest.raises(ConfigurationError, match="must fit"):
            nm.conv1d(signal, kernel, stride=s, padding=p, dilation=d)
        return
    dilated = np.zeros(span)
    dilated[::d] = kernel                             # the dilated kernel, zeros between taps
    expected = np.correlate(np.pad(signal, p), dilated, mode="valid")[::s]
    np.testing.assert_allclose(nm.conv1d(signal, kernel, stride=s, padding=p, dilation=d),
                               expected, atol=1e-9)
    np.testing.assert_allclose(nm.conv1d_matrix(len(signal), kernel, s, p, d) @ np.array(signal),
                               expected, atol=1e-9)


def test_conv1d_batched_is_conv2d_with_height_one() -> None:
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 4, 9)), rng.standard_normal((6, 2, 3))
    y = nm.conv1d(x, w, stride=2, padding=1, groups=2)
    ref = nm.conv2d_direct(x[:, :, None], w[:, :, None], stride=(1, 2), padding=(0, 1),
                           groups=2)
    np.testing.assert_allclose(y, ref[:, :, 0], atol=1e-12)


# -- Toeplitz ----------------------------------------------------------------------------------

def test_toeplitz_matrix_of_the_4x16_example() -> None:
    # Dumoulin & Visin: 3x3 kernel on a 4x4 input, stride 1, no padding -> 4x16 matrix;
    # the first row is w00 w01 w02 0 w10 w11 w12 0 w20 w21 w22 0 0 0 0 0, the others shifted.
    w = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    dense = nm.conv2d_matrix((1, 4, 4), w).toarray()
    first = np.array([1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 0, 0, 0, 0], dtype=float)
    assert dense.shape == (4, 16)
    np.testing.assert_array_equal(dense[0], first)
    np.testing.assert_array_equal(dense[1], np.roll(first, 1))       # one column right
    np.testing.assert_array_equal(dense[2], np.roll(first, 4))       # one row down
    np.testing.assert_array_equal(dense[3], np.roll(first, 5))


@SETTINGS
@given(conv_cases(), st.integers(0, 2 ** 32 - 1))
def test_toeplitz_transpose_is_the_adjoint(case: dict[str, Any], seed: int) -> None:
    x, w = case["x"][0], case["w"]
    m = nm.conv2d_matrix(x.shape, w, **_params(case))
    y = np.random.default_rng(seed).standard_normal(m.shape[0])
    np.testing.assert_allclose((m @ x.ravel()) @ y, x.ravel() @ (m.T @ y), rtol=1e-10,
                               atol=1e-10)
    np.testing.assert_allclose(m.toarray() @ x.ravel(), m @ x.ravel(), atol=1e-12)


def test_toeplitz_stores_only_taps_inside_the_input() -> None:
    w = np.ones((2, 3, 3, 3))
    assert nm.conv2d_matrix((3, 6, 6), w).nnz == 2 * 4 * 4 * 3 * 9      # no padding
    padded = nm.conv2d_matrix((3, 6, 6), w, padding=1)
    assert padded.nnz == 2 * 3 * (6 * 6 * 9 - 4 * 6 * 3 + 4)             # border taps dropped
    assert padded.shape == (2 * 36, 3 * 36)


def test_sparse_matrix_operand_shape_is_checked() -> None:
    m = nm.conv1d_matrix(4, [1.0, 2.0])
    with pytest.raises(InputError, match=r"needs shape \(4,\)"):
        m @ np.ones(3)
    np.testing.assert_allclose(m @ np.eye(4), m.toarray())


# -- backward ----------------------------------------------------------------------------------

def _loss(case: dict[str, Any], upstream: np.ndarray):
    """L(x, w, b) = sum(conv2d(x, w, b) * upstream), so dL/dy = upstream."""
    params = _params(case)

    def loss(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> float:
        return float((nm.conv2d(x, w, b, **params) * upstream).sum())
    return loss


@settings(max_examples=25, deadline=None)
@given(conv_cases(max_extra=2), st.integers(0, 2 ** 32 - 1))
def test_backward_matches_finite_differences(case: dict[str, Any], seed: int) -> None:
    x, w = case["x"], case["w"]
    b = case["b"] if case["b"] is not None else np.zeros(w.shape[0])
    y = nm.conv2d(x, w, b, **_params(case))
    upstream = np.random.default_rng(seed).standard_normal(y.shape)
    loss = _loss(case, upstream)
    gx, gw, gb = nm.conv2d_backward(x, w, upstream, **_params(case))
    assert (gx.shape, gw.shape, gb.shape) == (x.shape, w.shape, b.shape)
    np.testing.assert_allclose(gx, nm.numerical_gradient(lambda a: loss(a, w, b), x),
                               atol=1e-6)
    np.testing.assert_allclose(gw, nm.numerical_gradient(lambda a: loss(x, a, b), w),
                               atol=1e-6)
    np.testing.assert_allclose(gb, nm.numerical_gradient(lambda a: loss(x, w, a), b),
                               atol=1e-6)


@SETTINGS
@given(conv_cases(), st.integers(0, 2 ** 32 - 1))
def test_input_gradient_is_the_toeplitz_transpose(case: dict[str, Any], seed: int) -> None:
    x, w = case["x"], case["w"]
    y = nm.conv2d(x, w, **_params(case))
    g = np.random.default_rng(seed).standard_normal(y.shape)
    gx, _, _ = nm.conv2d_backward(x, w, g, **_params(case))
    m = nm.conv2d_matrix(x.shape[1:], w, **_params(case))
    via_matrix = (m.T @ g.reshape(g.shape[0], -1).T).T.reshape(x.shape)
    np.testing.assert_allclose(gx, via_matrix, atol=1e-10)


@SETTINGS
@given(conv_cases(max_groups=1), st.integers(0, 2 ** 32 - 1))
def test_weight_gradient_is_upstream_times_patch_matrix(case: dict[str, Any],
                                                        seed: int) -> None:
    x, w = case["x"], case["w"]
    y = nm.conv2d(x, w, **_params(case))
    g = np.random.default_rng(seed).standard_normal(y.shape)
    _, gw, gb = nm.conv2d_backward(x, w, g, **_params(case))
    cols = nm.im2col_numeric(x, w.shape[2:], case["padding"], case["stride"],
                             case["dilation"])
    expected = np.einsum("nol,nkl->ok", g.reshape(g.shape[0], g.shape[1], -1), cols)
    np.testing.assert_allclose(gw, expected.reshape(w.shape), atol=1e-10)
    np.testing.assert_allclose(gb, g.sum(axis=(0, 2, 3)), atol=1e-12)


def test_forgetting_the_flip_gives_a_wrong_input_gradient() -> None:
    # The kernel flip is not cosmetic: with an asymmetric kernel, the same full convolution
    # without the flip disagrees with finite differences.
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((1, 1, 5, 5)), rng.standard_normal((1, 1, 3, 3))
    g = rng.standard_normal((1, 1, 3, 3))
    numeric = nm.numerical_gradient(lambda a: float((nm.conv2d(a, w) * g).sum()), x)
    gx, _, _ = nm.conv2d_backward(x, w, g)
    unflipped = nm.conv2d(g, w, padding=2)           # full convolution, no flip
    np.testing.assert_allclose(gx, numeric, atol=1e-6)
    assert np.abs(unflipped - numeric).max() > 0.1


def test_stride_dilate_and_flip_kernel() -> None:
    g = np.arange(1.0, 5.0).reshape(1, 1, 2, 2)
    assert nm.stride_dilate(g, (1, 3)).shape == (1, 1, 2, 4)
    w = np.arange(2 * 4 * 2 * 2, dtype=float).reshape(2, 4, 2, 2)   # groups=2: C_in 8
    f = nm.flip_kernel(w, groups=2)
    assert f.shape == (8, 1, 2, 2)
    assert f[5, 0, 0, 1] == w[1, 1, 1, 0]             # group 1, input channel 1, flipped


# -- transposed convolution --------------------------------------------------------------------

@SETTINGS
@given(conv_cases(), st.integers(0, 2 ** 32 - 1), st.data())
def test_transposed_convolution_is_the_toeplitz_transpose(case: dict[str, Any], seed: int,
                                                          data: Any) -> None:
    w = case["w"]                                     # (C_in_t, C_out_t/groups, kh, kw)
    params = _params(case)
    st_, dil = np.broadcast_to(case["stride"], 2), np.broadcast_to(case["dilation"], 2)
    out_pad = tuple(data.draw(st.integers(0, max(int(s), int(d)) - 1))
                    for s, d in zip(st_, dil))
    y = np.random.default_rng(seed).standard_normal(
        (2, w.shape[0]) + nm.conv2d(case["x"], w, **params).shape[2:])
    pads = np.broadcast_to(case["padding"], 2)
    sizes = [(n - 1) * int(s) - 2 * int(p) + int(d) * (k - 1) + a + 1
             for n, s, p, d, k, a in zip(y.shape[2:], st_, pads, dil, w.shape[2:], out_pad)]
    if min(sizes) < 1:                                # padding eats the whole output
        with pytest.raises(ConfigurationError, match="must be >= 1"):
            nm.conv_transpose2d(y, w, None, output_padding=out_pad, **params)
        return
    out = nm.conv_transpose2d(y, w, None, output_padding=out_pad, **params)
    assert list(out.shape[2:]) == sizes
    c_out = w.shape[1] * case["groups"]
    assert out.shape[1] == c_out
    # The forward convolution of an input of the output's size maps back onto y's size,
    # or (output_padding >= stride, allowed when < dilation) onto a larger grid whose extra
    # bottom/right entries receive nothing: pad y with zeros there.
    forward_hw = nm.conv2d(np.zeros((1,) + out.shape[1:]), w, **params).shape[2:]
    assert forward_hw[0] >= y.shape[2] and forward_hw[1] >= y.shape[3]
    y_full = np.zeros(y.shape[:2] + forward_hw)
    y_full[:, :, :y.shape[2], :y.shape[3]] = y
    m = nm.conv2d_matrix(out.shape[1:], w, **params)  # the forward conv of that size
    via_matrix = (m.T @ y_full.reshape(2, -1).T).T.reshape(out.shape)
    np.testing.assert_allclose(out, via_matrix, atol=1e-10)


def test_transposed_output_size_relationship_14() -> None:
    # i=6, k=3, s=2, p=1 gives o=3 and a = (6 + 2 - 3) mod 2 = 1; transposing with
    # output_padding a recovers 6 (Dumoulin & Visin, relationship 14).
    y = nm.conv_transpose2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)), stride=2,
                            padding=1, output_padding=1)
    assert y.shape == (1, 1, 6, 6)
    b = nm.conv_transpose2d(np.ones((1, 2, 3, 3)), np.ones((2, 3, 3, 3)), b=[1.0, 2.0, 3.0])
    assert b.shape == (1, 3, 5, 5) and b[0, 2, 2, 2] == 2 * 9 + 3.0


# -- pooling -----------------------------------------------------------------------------------

def _pool_brute(x: np.ndarray, out_hw: tuple[int, int], k: int, s: int, p: int, kind: str,
                include_pad: bool = True) -> np.ndarray:
    n, c, h, w = x.shape
    out = np.zeros((n, c) + out_hw)
    for oh in range(out_hw[0]):
        for ow in range(out_hw[1]):
            rows = [r for r in range(oh * s - p, oh * s - p + k) if 0 <= r < h]
            cols = [q for q in range(ow * s - p, ow * s - p + k) if 0 <= q < w]
            win = x[:, :, rows][:, :, :, cols]
            if kind == "max":
                out[:, :, oh, ow] = win.max(axis=(2, 3))
            else:
                hh = min(oh * s - p + k, h + p) - (oh * s - p)
                ww = min(ow * s - p + k, w + p) - (ow * s - p)
                div = hh * ww if include_pad else len(rows) * len(cols)
                out[:, :, oh, ow] = win.sum(axis=(2, 3)) / div
    return out


@SETTINGS
@given(st.integers(1, 4), st.integers(1, 3), st.booleans(), st.booleans(),
       st.integers(0, 2), st.integers(1, 8), st.integers(0, 2 ** 32 - 1))
def test_pools_match_brute_force(k: int, s: int, ceil: bool, include_pad: bool, p: int,
                                 size: int, seed: int) -> None:
    p = min(p, k // 2)
    x = np.random.default_rng(seed).standard_normal((2, 3, size, size))
    try:
        mx = nm.max_pool2d(x, k, s, p, ceil_mode=ceil)
    except ConfigurationError:
        assert size + 2 * p < k                       # only when the window cannot fit
        return
    av = nm.avg_pool2d(x, k, s, p, ceil_mode=ceil, count_include_pad=include_pad)
    np.testing.assert_allclose(mx, _pool_brute(x, mx.shape[2:], k, s, p, "max"))
    np.testing.assert_allclose(av, _pool_brute(x, av.shape[2:], k, s, p, "avg", include_pad))


@pytest.mark.parametrize("size, k, s, p, ceil, out", [
    (5, 2, 2, 0, False, 2), (5, 2, 2, 0, True, 3),
    (3, 2, 2, 1, True, 2),       # a third window would start in the right padding: dropped
    (2, 3, 2, 0, True, 1),       # ceil mode lets the window hang over the edge
    (32, 2, 2, 0, False, 16), (7, 3, 2, 1, False, 4),
])
def test_pool_output_sizes_follow_pytorch(size: int, k: int, s: int, p: int, ceil: bool,
                                          out: int) -> None:
    x = np.ones((1, 1, size, size))
    assert nm.max_pool2d(x, k, s, p, ceil_mode=ceil).shape[2:] == (out, out)
    assert nm.avg_pool2d(x, k, s, p, ceil_mode=ceil).shape[2:] == (out, out)


def test_max_pool_with_dilation_and_avg_divisor_override() -> None:
    x = np.arange(25.0).reshape(1, 5, 5)
    assert nm.max_pool2d(x, 2, 1, dilation=2)[0, 0, 0] == 12.0     # taps 0, 2, 10, 12
    assert nm.avg_pool2d(x, 5, divisor_override=5)[0, 0, 0] == x.sum() / 5


# -- pixel shuffle -----------------------------------------------------------------------------

@settings(max_examples=20, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3))
def test_pixel_shuffle_index_formula(r: int, c: int, h: int, w: int) -> None:
    x = np.arange(2 * c * r * r * h * w, dtype=float).reshape(2, c * r * r, h, w)
    y = nm.pixel_shuffle(x, r)
    assert y.shape == (2, c, h * r, w * r)
    for ci in range(c):
        for i in range(r):
            for j in range(r):
                np.testing.assert_array_equal(y[:, ci, i::r, j::r], x[:, ci * r * r + i * r + j])
    np.testing.assert_array_equal(nm.pixel_unshuffle(y, r), x)


# -- finite differences ------------------------------------------------------------------------

def test_numerical_gradient_of_a_known_function() -> None:
    x = np.linspace(-2.0, 2.0, 7).reshape(7, 1)
    np.testing.assert_allclose(nm.numerical_gradient(lambda a: np.sin(a).sum(), x), np.cos(x),
                               atol=1e-8)
    v = np.ones_like(x)
    assert abs(nm.directional_derivative(lambda a: np.sin(a).sum(), x, v)
               - np.cos(x).sum()) < 1e-8
    with pytest.raises(InputError, match="eps=0"):
        nm.numerical_gradient(lambda a: 0.0, x, eps=0)


# -- validation --------------------------------------------------------------------------------

X = np.ones((1, 4, 5, 5))
W = np.ones((2, 4, 3, 3))


@pytest.mark.parametrize("call, message", [
    (lambda: nm.conv2d(X, W, stride=0), "got stride=0; stride must be an integer >= 1"),
    (lambda: nm.conv2d(X, W, padding=-1), "got padding=-1; padding must be an integer >= 0"),
    (lambda: nm.conv2d(X, W, padding=(1, -2)), r"got padding\[1\]=-2"),
    (lambda: nm.conv2d(X, W, dilation=3), r"dilation=3 \(spans 7\) on height 5"),
    (lambda: nm.conv2d(X, np.ones((2, 4, 9, 9)), padding=1), "must fit in the padded input"),
    (lambda: nm.conv2d(X, np.ones((2, 4, 3, 3)), groups=3), "got groups=3 with 4 input"),
    (lambda: nm.conv2d(X, np.ones((3, 2, 3, 3)), groups=2), "got groups=2 with 3 output"),
    (lambda: nm.conv2d(X, np.ones((2, 3, 3, 3))), r"w.shape\[1\] must be C_in/groups = 4"),
    (lambda: nm.conv2d(X, W, b=np.ones(3)), r"b must have shape \(2,\)"),
    (lambda: nm.conv2d(X[0], W), r"x with shape \(4, 5, 5\)"),
    (lambda: nm.conv2d_direct(X, W, stride=1.5), "got stride=1.5"),
    (lambda: nm.conv_transpose2d(X, np.ones((4, 2, 3, 3)), stride=2, output_padding=2),
     "got output_padding=2 with stride=2 and dilation=1"),
    (lambda: nm.conv_transpose2d(np.ones((1, 4, 1, 1)), np.ones((4, 2, 1, 1)), padding=1),
     "must be >= 1"),
    (lambda: nm.conv2d_backward(X, W, np.ones((1, 2, 4, 4))), r"output has shape \(1, 2, 3, 3\)"),
    (lambda: nm.max_pool2d(X, 2, padding=2), "at most half the kernel size"),
    (lambda: nm.avg_pool2d(X, 2, stride=0), "got stride=0"),
    (lambda: nm.pixel_shuffle(X, 3), "divisible by r\\*r = 9"),
    (lambda: nm.im2col_numeric(X, 7), "must fit"),
    (lambda: nm.conv1d([1.0, 2.0], [1.0, 1.0, 1.0]), "on length 2"),
])
def test_clear_configuration_errors(call: Any, message: str) -> None:
    with pytest.raises(InputError, match=message):
        call()


def test_configuration_errors_are_value_errors() -> None:
    with pytest.raises(ValueError):
        nm.conv2d(X, W, stride=0)
    with pytest.raises(ConfigurationError):
        nm.conv2d(X, W, groups=3)


def test_numeric_does_not_import_sympy() -> None:
    code = "import sys, derive.numeric; print('sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"


# -- benchmark ---------------------------------------------------------------------------------

def _benchmark_module() -> Any:
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "numeric_conv.py"
    spec = importlib.util.spec_from_file_location("numeric_conv_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH_KEYS = {"figure", "median_s", "min_s", "max_s", "baseline", "ratio"}


def test_benchmark_summary_has_the_contract_keys() -> None:
    bench = _benchmark_module()
    bench.PAUSE_S = 0.0
    row = bench._compare("tiny", lambda: sum(range(100)), lambda: sum(range(10)), 2, 2,
                         "a shorter sum")
    assert BENCH_KEYS <= set(row)
    assert row["min_s"] <= row["median_s"] <= row["max_s"]
    assert row["baseline"] == "a shorter sum"
    assert row["ratio"] == pytest.approx(row["median_s"] / row["baseline_median_s"])
    alone = bench._compare("no baseline", lambda: None, None, 1, 2, "nothing")
    assert alone["baseline"] is None and alone["ratio"] is None
    assert "tiny" in bench._table([row, alone])


@pytest.mark.slow
def test_benchmark_quick_run() -> None:
    results = _benchmark_module().run(quick=True)
    assert len(results) == 3 and all(BENCH_KEYS <= set(r) for r in results)
    assert results[2]["ratio"] > 1.0                  # loops are slower than im2col
