"""The convolution as a sparse (doubly block) Toeplitz matrix, built from NumPy index arrays.

Design rule: the matrix is never formed densely.  Its non-zero pattern is computed once as
integer index arrays (row = flattened output position, column = flattened input position,
and the flat index of the weight that sits there); values are gathered from the weight.
Padding taps are dropped because they multiply zeros.  With row-major flattening of
``(C, H, W)`` inputs and ``(C_out, H_out, W_out)`` outputs, ``M @ x.ravel()`` equals the
convolution, and ``M.T`` is the transposed convolution (the input gradient).

No SciPy: :class:`SparseMatrix` is a minimal coordinate-format matrix whose products use
``numpy.bincount``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from derive.errors import InputError, check_positive_int
from derive.numeric._config import (
    _as_array, _check_bias, _check_groups, _float_dtype, _out_size, _pair,
)
from derive.numeric.im2col import _out_shape

__all__ = ["SparseMatrix", "conv1d_matrix", "conv2d_matrix", "conv2d_toeplitz"]


@dataclass(frozen=True, eq=False)
class SparseMatrix:
    """A sparse matrix in coordinate form: ``A[rows[k], cols[k]] += data[k]``.

    >>> m = SparseMatrix(np.array([0, 1]), np.array([1, 0]), np.array([2.0, 3.0]), (2, 2))
    >>> m @ np.array([1.0, 10.0])
    array([20.,  3.])
    >>> m.T.toarray()
    array([[0., 3.],
           [2., 0.]])
    """
    rows: np.ndarray
    cols: np.ndarray
    data: np.ndarray
    shape: tuple[int, int]

    @property
    def nnz(self) -> int:
        """Number of stored entries."""
        return int(self.data.size)

    @property
    def T(self) -> "SparseMatrix":  # noqa: N802 - NumPy's spelling
        """The transpose (no copy of the entries)."""
        return SparseMatrix(self.cols, self.rows, self.data, (self.shape[1], self.shape[0]))

    def toarray(self) -> np.ndarray:
        """The dense matrix (duplicate coordinates are summed)."""
        out = np.zeros(self.shape, dtype=_float_dtype(self.data))
        np.add.at(out, (self.rows, self.cols), self.data)
        return out

    def __matmul__(self, v: Any) -> np.ndarray:
        """``A @ v`` for a vector ``v`` of shape ``(n,)`` or a matrix of shape ``(n, k)``."""
        arr = np.asarray(v)
        if arr.ndim not in (1, 2) or arr.shape[0] != self.shape[1]:
            raise InputError(
                f"got an operand with shape {arr.shape}; a {self.shape} matrix needs shape "
                f"({self.shape[1]},) or ({self.shape[1]}, k)")
        dtype = _float_dtype(self.data, arr)
        m = self.shape[0]
        if arr.ndim == 1:
            out = np.bincount(self.rows, weights=self.data * arr[self.cols], minlength=m)
            return out.astype(dtype, copy=False)
        k = arr.shape[1]
        contrib = self.data[:, None] * arr[self.cols]                 # (nnz, k)
        target = self.rows[:, None] * k + np.arange(k)
        out = np.bincount(target.ravel(), weights=contrib.ravel(), minlength=m * k)
        return out.reshape(m, k).astype(dtype, copy=False)


def _pattern(in_shape: tuple[int, int, int], w_shape: tuple[int, ...], stride: Any,
             padding: Any, dilation: Any, groups: Any
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]:
    """Index arrays (rows, cols, weight flat index) and the shape of the conv matrix."""
    c_in, height, width = in_shape
    c_out, c_group, kh, kw = w_shape
    st = _pair("stride", stride, minimum=1)
    pad = _pair("padding", padding, minimum=0)
    dil = _pair("dilation", dilation, minimum=1)
    groups = _check_groups(groups, c_in, c_out)
    if c_group * groups != c_in:
        raise InputError(
            f"got w with shape {tuple(w_shape)} for {c_in} input channels and "
            f"groups={groups}; w.shape[1] must be C_in/groups = {c_in // groups}")
    h_out, w_out = _out_shape((height, width), (kh, kw), st, pad, dil)
    # Axis order (o, oh, ow, c, i, j): rows come out sorted.
    o, oh, ow, c, i, j = np.ix_(np.arange(c_out), np.arange(h_out), np.arange(w_out),
                                np.arange(c_group), np.arange(kh), np.arange(kw))
    ih = oh * st[0] - pad[0] + i * dil[0]
    iw = ow * st[1] - pad[1] + j * dil[1]
    channel = (o // (c_out // groups)) * c_group + c
    shape6 = (c_out, h_out, w_out, c_group, kh, kw)
    keep = np.broadcast_to((ih >= 0) & (ih < height) & (iw >= 0) & (iw < width), shape6)
    rows = np.broadcast_to((o * h_out + oh) * w_out + ow, shape6)[keep]
    cols = np.broadcast_to((channel * height + ih) * width + iw, shape6)[keep]
    widx = np.broadcast_to(((o * c_group + c) * kh + i) * kw + j, shape6)[keep]
    return rows, cols, widx, (c_out * h_out * w_out, c_in * height * width)


def conv2d_matrix(input_shape: tuple[int, int, int], w: Any, stride: Any = 1,
                  padding: Any = 0, dilation: Any = 1, groups: int = 1) -> SparseMatrix:
    """The doubly block Toeplitz matrix of a 2-D convolution of a ``(C, H, W)`` input.

    Shape ``(C_out*H_out*W_out, C*H*W)``; multiplying it with ``x.ravel()`` gives the
    convolution output, raveled (no bias).

    >>> w = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    >>> m = conv2d_matrix((1, 4, 4), w)
    >>> m.shape, m.nnz
    ((4, 16), 36)
    >>> m.toarray()[0]           # first row of Dumoulin & Visin's 4x16 example
    array([1., 2., 3., 0., 4., 5., 6., 0., 7., 8., 9., 0., 0., 0., 0., 0.])
    """
    wa = _as_array("w", w, 4, "(C_out, C_in/groups, kh, kw)")
    if len(input_shape) != 3:
        raise InputError(f"got input_shape={tuple(input_shape)!r}; expected (C, H, W)")
    c_in = check_positive_int("input_shape[0]", input_shape[0])
    height = check_positive_int("input_shape[1]", input_shape[1])
    width = check_positive_int("input_shape[2]", input_shape[2])
    rows, cols, widx, shape = _pattern((c_in, height, width), wa.shape, stride, padding,
                                       dilation, groups)
    return SparseMatrix(rows, cols, wa.ravel()[widx], shape)


def conv1d_matrix(length: int, kernel: Any, stride: int = 1, padding: int = 0,
                  dilation: int = 1) -> SparseMatrix:
    """The Toeplitz matrix of a single-channel 1-D convolution, shape ``(L_out, length)``.

    >>> conv1d_matrix(4, [1.0, 2.0], stride=2).toarray()
    array([[1., 2., 0., 0.],
           [0., 0., 1., 2.]])
    """
    k = _as_array("kernel", kernel, 1, "(K,)")
    length = check_positive_int("length", length)
    st = check_positive_int("stride", stride)
    pad = check_positive_int("padding", padding, minimum=0)
    dil = check_positive_int("dilation", dilation)
    _out_size(length, k.size, st, pad, dil, axis="length")
    return conv2d_matrix((1, 1, length), k.reshape(1, 1, 1, -1), stride=(1, st),
                         padding=(0, pad), dilation=(1, dil))


def conv2d_toeplitz(x: Any, w: Any, b: Any = None, stride: Any = 1, padding: Any = 0,
                    dilation: Any = 1, groups: int = 1) -> np.ndarray:
    """2-D convolution of NCHW ``x`` as the sparse Toeplitz matrix times each raveled sample.

    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> conv2d_toeplitz(x, np.ones((1, 1, 3, 3)))[0, 0]
    array([[45., 54.],
           [81., 90.]])
    """
    xa = _as_array("x", x, 4, "(N, C_in, H, W)")
    wa = _as_array("w", w, 4, "(C_out, C_in/groups, kh, kw)")
    matrix = conv2d_matrix(xa.shape[1:], wa, stride, padding, dilation, groups)
    ba = _check_bias(b, wa.shape[0])
    n = xa.shape[0]
    out = (matrix @ xa.reshape(n, -1).T).T                   # (N, C_out*H_out*W_out)
    out = out.reshape(n, wa.shape[0], -1)
    if ba is not None:
        out = out + ba[:, None]
    h_out, w_out = _out_shape(xa.shape[2:], wa.shape[2:], _pair("stride", stride, minimum=1),
                              _pair("padding", padding, minimum=0),
                              _pair("dilation", dilation, minimum=1))
    arrays = (xa, wa) if ba is None else (xa, wa, ba)
    return out.reshape(n, wa.shape[0], h_out, w_out).astype(_float_dtype(*arrays), copy=False)
