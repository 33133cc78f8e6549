"""im2col: patch-matrix shapes, symbolic and numeric agreement, proofs against the model."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import sympy
from hypothesis import example, given, settings
from hypothesis import strategies as st

from derive.conv.im2col import im2col, patch_matrix_shape, prove_im2col, prove_im2col_bounded
from derive.conv.toeplitz import symbolic_kernel
from derive.errors import ConfigurationError, InputError
from derive.symbols import syms


def brute_conv2d(x, w, padding, stride, dilation):
    """(C, H, W) input, (C_out, C, kh, kw) kernel, explicit loops."""
    c, h, wd = x.shape
    c_out, _, kh, kw = w.shape
    xp = np.zeros((c, h + 2 * padding, wd + 2 * padding), dtype=object)
    xp[:, padding:padding + h, padding:padding + wd] = x
    ho = (h + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
    wo = (wd + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
    out = np.zeros((c_out, ho, wo), dtype=object)
    for o, i, j in itertools.product(range(c_out), range(ho), range(wo)):
        out[o, i, j] = sum(w[o, ch, u, v] * xp[ch, i * stride + u * dilation,
                                               j * stride + v * dilation]
                           for ch in range(c) for u in range(kh) for v in range(kw))
    return out


def test_exercise_8_21_shape_entries_and_proof() -> None:
    x = symbolic_kernel((4, 4), "x")
    cols = im2col(x, 3)
    assert cols.shape == (9, 4) == patch_matrix_shape((4, 4), 3)
    # column 0 is the top-left window read row by row, column 3 the bottom-right one
    X = sympy.IndexedBase("x")
    assert list(cols[:, 0]) == [X[u, v] for u in range(3) for v in range(3)]
    assert list(cols[:, 3]) == [X[1 + u, 1 + v] for u in range(3) for v in range(3)]
    v = prove_im2col((4, 4), 3)
    assert v.proved and v.method.startswith("entry by entry")


def test_practice_8_shape() -> None:
    assert patch_matrix_shape((4, 4), 2) == (4, 9)
    assert im2col(np.zeros((4, 4)), 2).shape == (4, 9)
    H, K, C, S = syms("H K C S")
    rows, cols = patch_matrix_shape((H, H), K, stride=S, channels=C)
    assert rows == C * K ** 2
    assert cols.subs({H: 7, K: 3, S: 2}) == 9


configs = st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 3),
                    st.integers(0, 2), st.integers(1, 3), st.integers(1, 2),
                    st.integers(1, 3), st.integers(1, 2)).filter(
    lambda c: c[5] * (c[2] - 1) + 1 <= min(c[0], c[1]) + 2 * c[3])


@given(configs, st.integers(0, 2 ** 32 - 1))
@example((4, 4, 3, 0, 1, 1, 1, 1), 0)
@example((5, 5, 3, 1, 2, 1, 2, 2), 1)
@settings(max_examples=50, deadline=None)
def test_reshaped_kernel_times_patches_is_the_convolution(cfg, seed) -> None:
    h, w_, k, p, s, d, c, c_out = cfg
    rng = np.random.default_rng(seed)
    x = rng.integers(-5, 6, size=(c, h, w_))
    w = rng.integers(-5, 6, size=(c_out, c, k, k))
    expected = brute_conv2d(x, w, p, s, d)
    cols = im2col(x, k, padding=p, stride=s, dilation=d)
    assert cols.shape == patch_matrix_shape((h, w_), k, p, s, d, channels=c)
    got = w.reshape(c_out, -1) @ cols
    assert got.tolist() == expected.reshape(c_out, -1).astype(float).tolist()
    # the symbolic patch matrix (read off the model) agrees with the numeric one
    sym = im2col([[[sympy.Integer(int(v)) for v in r] for r in ch] for ch in x], k, p, s, d)
    assert np.array(sym.tolist(), dtype=float).tolist() == cols.tolist()


def test_batched_numeric_input_and_padding_zeros() -> None:
    x = np.arange(2 * 1 * 3 * 3, dtype=float).reshape(2, 1, 3, 3)
    cols = im2col(x, 3, padding=1)
    assert cols.shape == (2, 9, 9)
    assert cols[0, 0, 0] == 0.0                     # top-left tap of the first window is padding
    sym = im2col(symbolic_kernel((3, 3), "x"), 3, padding=1)
    assert sym[0, 0] == 0 and sym[4, 0] == sympy.IndexedBase("x")[0, 0]


def test_bounded_proof_small() -> None:
    v = prove_im2col_bounded(3, 2, 2, 1, 1, 1)
    assert v.proved, v.explain()
    assert v.method.startswith("finite expansion for all H, W <= 3")
    assert prove_im2col((3, 4), (2, 3), padding=1, stride=(1, 2), in_channels=2,
                        out_channels=2).proved


@pytest.mark.slow
def test_bounded_proof_default_bound() -> None:
    assert prove_im2col_bounded().proved


def test_errors() -> None:
    with pytest.raises(InputError, match="text is never evaluated"):
        im2col("x", 3)
    with pytest.raises(InputError, match="expected \\(H, W\\), \\(C, H, W\\)"):
        im2col(np.zeros(5), 3)
    with pytest.raises(ConfigurationError, match="kernel_size"):
        im2col(symbolic_kernel((3, 3), "x"), (1, 2, 3))
    with pytest.raises(ConfigurationError, match="got stride=0"):
        im2col(symbolic_kernel((3, 3), "x"), 2, stride=0)
    with pytest.raises(InputError, match="one sample"):
        im2col([[[[sympy.Symbol("a")]]]], 1)
