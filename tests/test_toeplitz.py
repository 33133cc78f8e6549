"""The Toeplitz view of convolution: golden cases, brute force, proofs, errors."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import numpy as np
import pytest
import sympy
from hypothesis import example, given, settings
from hypothesis import strategies as st

from derive.check.verdict import Status
from derive.conv.toeplitz import (
    conv_matrix, conv_matrix_2d, free_parameters, parameter_count, prove_conv_matrix,
    prove_conv_matrix_2d, prove_conv_matrix_bounded, symbolic_kernel, toeplitz_entry,
    toeplitz_proof_1d,
)
from derive.errors import ConfigurationError, InputError

REFERENCE = Path("/work/shared/reference/conv_arithmetic.json")


# --------------------------------------------------------------------------- brute force

def brute_conv1d(x, w, padding=0, stride=1, dilation=1):
    """Cross-correlation by explicit loops over a zero-padded copy."""
    xp = [0] * padding + list(x) + [0] * padding
    span = dilation * (len(w) - 1) + 1
    out = []
    start = 0
    while start + span <= len(xp):
        out.append(sum(w[u] * xp[start + dilation * u] for u in range(len(w))))
        start += stride
    return out


def brute_conv2d(x, w, padding=0, stride=1, dilation=1, groups=1):
    """NCHW cross-correlation (one sample) by explicit loops."""
    c_in, h, wd = x.shape
    c_out, cg, kh, kw = w.shape
    xp = np.zeros((c_in, h + 2 * padding, wd + 2 * padding), dtype=object)
    xp[:, padding:padding + h, padding:padding + wd] = x
    ho = (h + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
    wo = (wd + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
    out = np.zeros((c_out, ho, wo), dtype=object)
    per_group = c_out // groups
    for o, i, j in itertools.product(range(c_out), range(ho), range(wo)):
        first = (o // per_group) * cg
        out[o, i, j] = sum(w[o, c, u, v] * xp[first + c, i * stride + u * dilation,
                                              j * stride + v * dilation]
                           for c in range(cg) for u in range(kh) for v in range(kw))
    return out


# --------------------------------------------------------------------------- golden cases

def test_dumoulin_visin_4x16_example_from_reference() -> None:
    text = json.loads(REFERENCE.read_text())["matrix_example"]
    first = re.search(r"first row is (.*?) \(", text).group(1).split()
    kernel = [[sympy.Symbol(f"w{u}{v}") for v in range(3)] for u in range(3)]
    matrix = conv_matrix_2d((4, 4), kernel)
    assert matrix.shape == (4, 16)
    expected_first = [sympy.Symbol(t) if t != "0" else 0 for t in first]
    assert list(matrix[0, :]) == expected_first
    # "the other rows are shifted copies": output (i, j) starts at input offset 4*i + j
    for row, (i, j) in enumerate(itertools.product(range(2), range(2))):
        shift = 4 * i + j
        assert list(matrix[row, :]) == [0] * shift + expected_first[:16 - shift]
    # the backward pass / transposed convolution multiplies by C transposed
    assert matrix.T.shape == (16, 4)


def test_exercise_8_1_toeplitz_and_parameters() -> None:
    x = [2, 1, 3, 0, 4, 2]
    w = [1, 0, -1]
    expected = brute_conv1d(x, w)
    assert len(expected) == 4
    assert list(conv_matrix(6, w) @ np.array(x)) == expected
    a, b, c = sympy.symbols("a b c")
    sym = conv_matrix(6, [a, b, c])
    assert sym.shape == (4, 6)
    assert list(sym.subs({a: 1, b: 0, c: -1}) * sympy.Matrix(x)) == expected
    count = parameter_count(6, 3)
    assert (count.conv, count.dense, count.shape) == (3, 24, (4, 6))
    assert count.ratio == 8


def test_free_parameters_counts_distinct_symbols() -> None:
    m = conv_matrix(5, symbolic_kernel((2,)), stride=2)
    assert free_parameters(m) == 2
    x = sympy.Symbol("x")
    assert free_parameters(sympy.Matrix([[x, x + 1], [0, 2 * x]])) == 1
    with pytest.raises(InputError, match="SymPy matrix"):
        free_parameters(np.eye(2))


# --------------------------------------------------------------------------- brute force

configs_1d = st.tuples(st.integers(1, 9), st.integers(1, 4), st.integers(0, 2),
                       st.integers(1, 3), st.integers(1, 3)).filter(
    lambda c: c[4] * (c[1] - 1) + 1 <= c[0] + 2 * c[2])


@given(configs_1d, st.data())
@example((5, 3, 1, 2, 1), None)
@example((7, 3, 0, 1, 2), None)
@settings(max_examples=60, deadline=None)
def test_conv_matrix_matches_brute_force(cfg, data) -> None:
    n, k, p, s, d = cfg
    if data is None:
        w, x = [1, -2, 3][:k], list(range(1, n + 1))
    else:
        w = data.draw(st.lists(st.integers(-5, 5), min_size=k, max_size=k))
        x = data.draw(st.lists(st.integers(-5, 5), min_size=n, max_size=n))
    expected = brute_conv1d(x, w, p, s, d)
    numeric = conv_matrix(n, w, padding=p, stride=s, dilation=d)
    assert numeric.shape == (len(expected), n)
    assert list(numeric @ np.array(x)) == expected
    # the symbolic builder (read off the model) agrees with the numeric one (NumPy indices)
    symbolic = conv_matrix(n, [sympy.Integer(v) for v in w], padding=p, stride=s, dilation=d)
    assert np.array(symbolic.tolist(), dtype=float).tolist() == numeric.tolist()


configs_2d = st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(1, 3),
                       st.integers(1, 3), st.integers(0, 1), st.integers(1, 2),
                       st.integers(1, 2), st.sampled_from([(1, 1, 1), (2, 1, 1), (1, 2, 1),
                                                           (2, 2, 1), (2, 2, 2), (4, 2, 2)])
                       ).filter(lambda c: c[6] * (max(c[2], c[3]) - 1) + 1
                                <= min(c[0], c[1]) + 2 * c[4])


@given(configs_2d, st.integers(0, 2 ** 32 - 1))
@settings(max_examples=40, deadline=None)
def test_conv_matrix_2d_channels_groups_match_brute_force(cfg, seed) -> None:
    h, w_, kh, kw, p, s, d, (cin, cout, groups) = cfg
    rng = np.random.default_rng(seed)
    x = rng.integers(-4, 5, size=(cin, h, w_))
    w = rng.integers(-4, 5, size=(cout, cin // groups, kh, kw))
    expected = brute_conv2d(x, w, p, s, d, groups)
    m = conv_matrix_2d((h, w_), w, padding=p, stride=s, dilation=d, groups=groups)
    assert m.shape == (expected.size, x.size)
    assert np.allclose(m @ x.ravel(), expected.ravel().astype(float))
    sym = conv_matrix_2d((h, w_), [[[[sympy.Integer(int(v)) for v in r] for r in k]
                                    for k in o] for o in w], p, s, d, groups)
    assert np.array(sym.tolist(), dtype=float).tolist() == m.tolist()


def test_grouped_matrix_has_zero_blocks_between_groups() -> None:
    w = symbolic_kernel((2, 1, 2, 2))               # 2 groups, one channel each
    m = conv_matrix_2d((3, 3), w, groups=2)
    assert m.shape == (2 * 4, 2 * 9)
    assert m[:4, 9:] == sympy.zeros(4, 9)           # output channel 0 never reads channel 1
    assert m[4:, :9] == sympy.zeros(4, 9)
    assert free_parameters(m) == 8


# --------------------------------------------------------------------------- proofs

@pytest.mark.parametrize("cfg", [(6, 3, 0, 1, 1), (5, 3, 1, 2, 1), (7, 2, 2, 3, 2),
                                 (1, 1, 0, 1, 1), (4, 4, 0, 1, 1)])
def test_prove_conv_matrix(cfg) -> None:
    v = prove_conv_matrix(*cfg)
    assert v.status is Status.PROVED, v.explain()
    assert v.method.startswith("entry by entry")


def test_prove_conv_matrix_2d_with_channels_and_groups() -> None:
    assert prove_conv_matrix_2d((3, 4), (2, 2), padding=1, stride=2).proved
    assert prove_conv_matrix_2d((3, 3), (2, 2), in_channels=2, out_channels=2, groups=2).proved
    assert prove_conv_matrix_2d((4, 3), (2, 1), dilation=(2, 1), in_channels=2,
                                out_channels=1).proved


def test_bounded_proof_small() -> None:
    v = prove_conv_matrix_bounded(4, 3, 2, 2, 1)
    assert v.proved
    assert v.method.startswith("finite expansion for all n <= 4, k <= 3, s <= 2, d <= 2, p <= 1")
    assert v.instances > 50


@pytest.mark.slow
def test_bounded_proof_stated_bound() -> None:
    v = prove_conv_matrix_bounded(8, 4, 3, 2, 2)
    assert v.proved, v.explain()
    assert "n <= 8, k <= 4, s <= 3, d <= 2, p <= 2" in v.method


def test_symbolic_entry_and_symbolic_size_proof() -> None:
    chain = toeplitz_entry()
    assert chain.proved, chain.explain()
    entry = chain.result
    # the symbolic entry, instantiated, reproduces the concrete matrices
    names = {s.name: s for s in entry.free_symbols}
    w = sympy.IndexedBase("w")
    for n, k, p, s, d in [(6, 3, 0, 1, 1), (7, 3, 1, 2, 2), (5, 2, 2, 3, 1)]:
        m = conv_matrix(n, [w[u] for u in range(k)], p, s, d)
        for i, j in itertools.product(range(m.shape[0]), range(n)):
            value = entry.xreplace({names["K"]: k, names["P"]: p, names["S"]: s,
                                    names["D"]: d, names["i"]: i, names["j"]: j})
            assert value == m[i, j], (n, k, p, s, d, i, j)
    proof = toeplitz_proof_1d()
    assert proof.proved, proof.explain()
    assert all(v.status is Status.PROVED for v in proof.verdicts)
    book = proof.to_book(label="toeplitz")
    assert book.status is Status.PROVED and len(book.steps) == len(proof.steps)


# --------------------------------------------------------------------------- errors

def test_errors_name_the_argument() -> None:
    with pytest.raises(ConfigurationError, match="got stride=0; stride must be an integer >= 1"):
        conv_matrix(5, [1, 2], stride=0)
    with pytest.raises(ConfigurationError, match="wider than the padded input"):
        conv_matrix(2, [1, 2, 3])
    with pytest.raises(InputError, match="text is never evaluated"):
        conv_matrix(5, "1, 2")
    with pytest.raises(InputError, match="1D kernel"):
        conv_matrix(5, [[1, 2], [3, 4]])
    with pytest.raises(InputError, match="expected a number or a SymPy expression"):
        conv_matrix(5, [1, object()])
    with pytest.raises(InputError, match="expected \\(H, W\\)"):
        conv_matrix_2d(4, [[1]])
    with pytest.raises(InputError, match="expected \\(kh, kw\\)"):
        conv_matrix_2d((4, 4), [1, 2])
    with pytest.raises(ConfigurationError, match="groups"):
        conv_matrix_2d((4, 4), np.ones((3, 1, 2, 2)), groups=2)
