"""Transposed convolution: the transpose of the convolution matrix, and the same map as a
direct convolution of the zero-stuffed, padded input with the flipped kernel.

Design rule: the transposed convolution is *defined* as ``W_conv^T`` with ``W_conv`` from
:mod:`derive.conv.toeplitz` (read off the model); the direct form is derived, not assumed:
it is the last line of :func:`derive.conv.backward.transpose_chain` (``W^T g`` rewritten by
checked rules into a cross-correlation with the flipped kernel), with ``g`` renamed ``z``.
Concretely, for a convolution with kernel ``k``, stride ``s``, padding ``p``, dilation ``d``
on ``n`` inputs and ``i'`` outputs (Dumoulin & Visin, relationships 12 to 14):

1. stuff ``s - 1`` zeros between the ``i'`` entries of ``z``;
2. pad by ``p' = d(k - 1) - p`` on the left and ``p' + a`` on the right, with
   ``a = (n + 2p - d(k - 1) - 1) mod s`` (negative padding crops);
3. cross-correlate (stride 1, dilation ``d``) with the flipped kernel ``w[k - 1 - u]``.

The output has ``(i' - 1)s + a + d(k - 1) - 2p + 1 = n`` entries, PyTorch's
``transposed_output_size`` with ``output_padding = a``.

>>> import sympy
>>> a, b, c = sympy.symbols("a b c")
>>> transposed_matrix(4, [a, b, c])
Matrix([
[a, 0],
[b, a],
[c, b],
[0, c]])
"""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import sympy

from derive.check.verdict import Status, Verdict
from derive.errors import InputError, check_positive_int

__all__ = [
    "direct_size_check",
    "output_padding_for",
    "prove_transposed",
    "prove_transposed_bounded",
    "stuffed_padded",
    "transposed_direct",
    "transposed_matrix",
    "transposed_matrix_2d",
]


def transposed_matrix(n: int, kernel: Sequence[Any], padding: int = 0, stride: int = 1,
                      dilation: int = 1) -> Any:
    """``conv_matrix(n, kernel, ...)`` transposed: maps the ``i'`` outputs back to ``n``
    positions (NumPy for numbers, SymPy for symbols)."""
    from derive.conv.toeplitz import conv_matrix

    return conv_matrix(n, kernel, padding, stride, dilation).T


def transposed_matrix_2d(input_size: Sequence[int], kernel: Any, padding: Any = 0,
                         stride: Any = 1, dilation: Any = 1, groups: int = 1) -> Any:
    """``conv_matrix_2d(...)`` transposed (the 16x4 matrix ``C^T`` of Dumoulin & Visin)."""
    from derive.conv.toeplitz import conv_matrix_2d

    return conv_matrix_2d(input_size, kernel, padding, stride, dilation, groups).T


def output_padding_for(n: Any, kernel: Any, padding: Any = 0, stride: Any = 1,
                       dilation: Any = 1) -> Any:
    """``a = (n + 2p - d(k - 1) - 1) mod s``: the output padding that makes the transposed
    convolution return ``n`` positions (Dumoulin & Visin, relationship 14).

    >>> output_padding_for(6, 3, padding=1, stride=2)
    1
    """
    value = n + 2 * padding - dilation * (kernel - 1) - 1
    if all(isinstance(v, numbers.Integral) for v in (n, kernel, padding, stride, dilation)):
        return int(value) % int(stride)
    return sympy.Mod(value, stride)


def stuffed_padded(z: Sequence[Any], n: int, kernel_size: int, padding: int = 0,
                   stride: int = 1, dilation: int = 1) -> list[Any]:
    """``z`` with ``stride - 1`` zeros between entries, padded by ``p' = d(k-1) - p`` on
    the left and ``p' + a`` on the right (a negative ``p'`` crops).

    >>> stuffed_padded([1, 2], 5, 3, stride=2)
    [0, 0, 1, 0, 2, 0, 0]
    >>> stuffed_padded([1, 2, 3, 4, 5], 2, 2, padding=2)   # p' = -1: cropped
    [2, 3, 4]
    """
    k = check_positive_int("kernel_size", kernel_size)
    p = check_positive_int("padding", padding, minimum=0)
    s = check_positive_int("stride", stride)
    d = check_positive_int("dilation", dilation)
    from derive.conv.shapes import output_size

    expected = output_size(check_positive_int("n", n), k, p, s, d)
    if len(z) != expected:
        raise InputError(f"got z with {len(z)} entries; the convolution of {n} inputs has "
                         f"{expected} outputs, the input length of its transpose")
    a = output_padding_for(n, k, p, s, d)
    zs: list[Any] = []
    for t, v in enumerate(z):
        if t:
            zs.extend([0] * (s - 1))
        zs.append(v)
    left = d * (k - 1) - p
    right = left + a
    out = list(zs)
    out = ([0] * left + out) if left >= 0 else out[-left:]
    out = (out + [0] * right) if right >= 0 else out[:len(out) + right]
    return out


def transposed_direct(z: Sequence[Any], n: int, kernel: Sequence[Any], padding: int = 0,
                      stride: int = 1, dilation: int = 1) -> list[Any]:
    """The transposed convolution as a direct convolution: :func:`stuffed_padded` ``z``
    cross-correlated (stride 1, dilation ``d``) with the flipped kernel; ``n`` entries.

    >>> transposed_direct([1, 1], 4, [1, 2, 3])
    [1, 3, 5, 3]
    """
    ker = list(kernel)
    k = len(ker)
    if k == 0:
        raise InputError("got an empty kernel")
    d = check_positive_int("dilation", dilation)
    zp = stuffed_padded(z, n, k, padding, stride, d)
    flipped = ker[::-1]                      # the kernel flip
    length = len(zp) - d * (k - 1)
    return [sum((flipped[u] * zp[t + d * u] for u in range(k)), sympy.Integer(0))
            if any(isinstance(v, sympy.Basic) for v in ker + list(z))
            else sum(flipped[u] * zp[t + d * u] for u in range(k))
            for t in range(length)]


def direct_size_check(symbolic: bool = True) -> Verdict:
    """The direct form's length, ``output_size`` of the stuffed and padded input (stride 1,
    dilation ``d``), equals :func:`derive.conv.shapes.transposed_output_size` with output
    padding ``a``, and equals ``n`` when ``i'`` is the convolution's output size.

    >>> direct_size_check().status.value
    'proved'
    """
    from derive.check.engine import check_exprs
    from derive.conv.shapes import transposed_output_size
    from derive.symbols import sym

    ip, k, s, d = sym("i'"), sym("k"), sym("s"), sym("d")
    p, a = sym("p"), sym("a", nonnegative=True)
    stuffed = (ip - 1) * s + 1
    prime = d * (k - 1) - p
    direct = stuffed + 2 * prime + a - d * (k - 1)       # stride-1 valid length
    rule = transposed_output_size(ip, k, p, s, d, a)
    return check_exprs(direct, rule, assume=["a >= 0", "a <= s - 1"])


def prove_transposed(n: int, kernel_size: int, padding: int = 0, stride: int = 1,
                     dilation: int = 1) -> Verdict:
    """Check ``conv_matrix(...).T @ z`` against :func:`transposed_direct` entry by entry,
    and the length against ``transposed_output_size(i', k, p, s, d, a) == n``.

    >>> prove_transposed(5, 3, padding=1, stride=2).status.value
    'proved'
    """
    from derive.check.engine import check_exprs
    from derive.conv.shapes import output_size, transposed_output_size
    from derive.conv.toeplitz import symbolic_kernel

    w = symbolic_kernel((kernel_size,), "w")
    out = output_size(n, kernel_size, padding, stride, dilation)
    z = symbolic_kernel((out,), "z")
    lhs = sympy.ImmutableMatrix(transposed_matrix(n, w, padding, stride, dilation)
                                * sympy.ImmutableMatrix(z))
    direct = transposed_direct(z, n, w, padding, stride, dilation)
    a = output_padding_for(n, kernel_size, padding, stride, dilation)
    size = transposed_output_size(out, kernel_size, padding, stride, dilation,
                                  output_padding=a)
    if not (len(direct) == size == n):
        return Verdict(Status.REFUTED, "lengths differ", claim="transposed sizes",
                       counterexample={"n": n, "k": kernel_size, "p": padding, "s": stride,
                                       "d": dilation},
                       lhs_value=len(direct), rhs_value=size)
    return check_exprs(lhs, sympy.ImmutableMatrix(direct))


def prove_transposed_bounded(max_n: int = 8, max_k: int = 4, max_s: int = 3, max_d: int = 2,
                             max_p: int = 2) -> Verdict:
    """:func:`prove_transposed` for every 1D configuration up to the bounds.

    >>> v = prove_transposed_bounded(3, 2, 2, 1, 1)
    >>> v.status.value, v.method.split(" (")[0]
    ('proved', 'finite expansion for all n <= 3, k <= 2, s <= 2, d <= 1, p <= 1')
    """
    from derive.conv.toeplitz import valid_configurations
    count = 0
    for n, k, s, d, p in valid_configurations(max_n, max_k, max_s, max_d, max_p):
        v = prove_transposed(n, k, p, s, d)
        count += 1
        if v.status is not Status.PROVED:
            return Verdict(v.status, f"at n={n}, k={k}, s={s}, d={d}, p={p}: {v.method}",
                           claim="W^T z == direct form", counterexample=v.counterexample,
                           lhs_value=v.lhs_value, rhs_value=v.rhs_value)
    return Verdict(Status.PROVED,
                   f"finite expansion for all n <= {max_n}, k <= {max_k}, s <= {max_s}, "
                   f"d <= {max_d}, p <= {max_p} ({count} configurations whose kernel fits; "
                   "W^T z against the zero-stuffed, padded, flipped-kernel convolution entry "
                   "by entry, and the length against transposed_output_size)",
                   claim="W^T z == direct form", instances=count)
