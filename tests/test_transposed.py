"""Transposed convolution: W^T, the zero-stuffed flipped-kernel direct form, sizes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import sympy
from hypothesis import example, given, settings
from hypothesis import strategies as st

from derive.conv.backward import input_gradient, transpose_chain
from derive.conv.shapes import output_size, transposed_output_size
from derive.conv.toeplitz import conv_matrix, conv_matrix_2d, symbolic_kernel
from derive.conv.transposed import (
    direct_size_check, output_padding_for, prove_transposed, prove_transposed_bounded,
    stuffed_padded, transposed_direct, transposed_matrix, transposed_matrix_2d,
)
from derive.errors import InputError
from derive.numeric import conv_transpose2d

REFERENCE = Path("/work/shared/reference/conv_arithmetic.json")

configs = st.tuples(st.integers(1, 9), st.integers(1, 4), st.integers(0, 3),
                    st.integers(1, 3), st.integers(1, 3)).filter(
    lambda c: c[4] * (c[1] - 1) + 1 <= c[0] + 2 * c[2])


def brute_transposed(z, w, n, padding, stride, dilation):
    """Scatter form: input entry t adds z[t]*w[u] at position t*s + u*d - p."""
    out = [0] * n
    for t, zt in enumerate(z):
        for u, wu in enumerate(w):
            q = t * stride + u * dilation - padding
            if 0 <= q < n:
                out[q] += zt * wu
    return out


@given(configs, st.data())
@example((6, 3, 1, 2, 1), None)
@settings(max_examples=60, deadline=None)
def test_direct_form_matches_transpose_and_scatter(cfg, data) -> None:
    n, k, p, s, d = cfg
    out = output_size(n, k, p, s, d)
    if data is None:
        w, z = [1, 2, 3][:k], list(range(1, out + 1))
    else:
        w = data.draw(st.lists(st.integers(-5, 5), min_size=k, max_size=k))
        z = data.draw(st.lists(st.integers(-5, 5), min_size=out, max_size=out))
    expected = brute_transposed(z, w, n, p, s, d)
    via_t = transposed_matrix(n, w, p, s, d) @ np.array(z, dtype=float)
    direct = transposed_direct(z, n, w, p, s, d)
    assert via_t.tolist() == [float(v) for v in expected]
    assert direct == expected
    a = output_padding_for(n, k, p, s, d)
    assert 0 <= a < s
    assert len(direct) == transposed_output_size(out, k, p, s, d, output_padding=a) == n
    # PyTorch's conventions as implemented by derive.numeric (1D as a 1-row 2D case)
    ours = conv_transpose2d(np.array(z, dtype=float).reshape(1, 1, 1, -1),
                            np.array(w, dtype=float).reshape(1, 1, 1, -1), stride=(1, s),
                            padding=(0, p), output_padding=(0, a), dilation=(1, d))
    assert ours.ravel().tolist() == [float(v) for v in expected]


def test_figure_case_from_reference() -> None:
    cases = json.loads(REFERENCE.read_text())["figure_cases"]
    case = next(c for c in cases if "transposed_o" in c)
    i, k, s, p = case["i"], case["k"], case["s"], case["p"]
    assert output_size(i, k, p, s) == case["o"]
    assert output_padding_for(i, k, p, s) == case["a"]
    assert transposed_output_size(case["o"], k, p, s, output_padding=case["a"]) \
        == case["transposed_o"]
    z = symbolic_kernel((case["o"],), "z")
    assert len(transposed_direct(z, i, symbolic_kernel((k,)), p, s)) == case["transposed_o"]


def test_stuffing_and_padding_layout() -> None:
    assert stuffed_padded([1, 2, 3], 7, 3, stride=2) == [0, 0, 1, 0, 2, 0, 3, 0, 0]
    # p' = d(k-1) - p may be negative: the stuffed input is cropped
    assert stuffed_padded([1, 2, 3, 4, 5], 2, 2, padding=2, stride=1) == [2, 3, 4]
    with pytest.raises(InputError, match="got z with 2 entries"):
        stuffed_padded([1, 2], 2, 2, padding=2)


def test_transposed_matrix_2d_is_the_transpose() -> None:
    w = symbolic_kernel((3, 3))
    assert transposed_matrix_2d((4, 4), w) == conv_matrix_2d((4, 4), w).T
    assert transposed_matrix_2d((4, 4), w).shape == (16, 4)
    a, b = sympy.symbols("a b")
    assert transposed_matrix(3, [a, b]) == conv_matrix(3, [a, b]).T


@pytest.mark.parametrize("cfg", [(5, 3, 0, 2, 1), (6, 3, 1, 2, 1), (7, 3, 0, 1, 2),
                                 (8, 2, 2, 3, 2), (3, 3, 2, 1, 1)])
def test_prove_transposed(cfg) -> None:
    v = prove_transposed(*cfg)
    assert v.proved, v.explain()


def test_bounded_and_symbolic_proofs() -> None:
    v = prove_transposed_bounded(5, 3, 2, 2, 1)
    assert v.proved, v.explain()
    assert "n <= 5, k <= 3, s <= 2, d <= 2, p <= 1" in v.method
    size = direct_size_check()
    assert size.proved, size.explain()
    chain = transpose_chain()               # W^T g rewritten into the flipped-kernel form
    assert chain.proved and chain.result == input_gradient().result


@pytest.mark.slow
def test_bounded_proof_stated_bound() -> None:
    v = prove_transposed_bounded()
    assert v.proved, v.explain()


@pytest.mark.torch
@given(configs, st.integers(0, 2 ** 32 - 1))
@settings(max_examples=15, deadline=None)
def test_pytorch_conv_transpose1d_agrees(cfg, seed) -> None:
    torch = pytest.importorskip("torch", reason="PyTorch not installed")
    n, k, p, s, d = cfg
    out = output_size(n, k, p, s, d)
    a = output_padding_for(n, k, p, s, d)
    if not (a < s or a < d):   # PyTorch's own restriction on output_padding
        return
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(out)
    w = rng.standard_normal(k)
    ref = torch.nn.functional.conv_transpose1d(
        torch.tensor(z).reshape(1, 1, -1), torch.tensor(w).reshape(1, 1, -1), stride=s,
        padding=p, output_padding=a, dilation=d).numpy().ravel()
    direct = np.array(transposed_direct(list(z), n, list(w), p, s, d), dtype=float)
    assert np.allclose(direct, ref, atol=1e-12)
