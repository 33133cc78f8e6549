"""im2col: every receptive field of the input laid out as one column of a patch matrix.

Design rule: the patch matrix is built from a strided *view* of the zero-padded input
(``numpy.lib.stride_tricks.sliding_window_view``), never by Python loops, and copied once
when a contiguous matrix is needed.  Rows are ordered ``(channel, kernel row, kernel
column)``, the order of ``w.reshape(C_out, -1)``, so a convolution is one matrix product:
``w.reshape(C_out, -1) @ im2col_numeric(x[n], ...)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from derive.numeric._config import Pair, _as_array, _out_size, _pair

__all__ = ["im2col_numeric"]


def _pad(x: np.ndarray, padding: Pair) -> np.ndarray:
    """Zero-pad the last two axes of an (N, C, H, W) array by ``padding`` on each side."""
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


def _patch_view(xp: np.ndarray, kernel: Pair, stride: Pair, dilation: Pair) -> np.ndarray:
    """Strided view ``(C, kh, kw, N, H_out, W_out)`` of an already padded (N, C, H, W) array.

    ``view[c, i, j, n, oh, ow] == xp[n, c, oh*sh + i*dh, ow*sw + j*dw]``.
    """
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    windows = sliding_window_view(xp, (span_h, span_w), axis=(2, 3))
    # windows[n, c, a, b, u, v] == xp[n, c, a + u, b + v]
    windows = windows[:, :, ::sh, ::sw, ::dh, ::dw]
    return windows.transpose(1, 4, 5, 0, 2, 3)


def _out_shape(hw: tuple[int, int], kernel: Pair, stride: Pair, padding: Pair,
               dilation: Pair) -> Pair:
    """(H_out, W_out) of a convolution, validated."""
    return (_out_size(hw[0], kernel[0], stride[0], padding[0], dilation[0], axis="height"),
            _out_size(hw[1], kernel[1], stride[1], padding[1], dilation[1], axis="width"))


def im2col_numeric(x: Any, kernel_size: Any, padding: Any = 0, stride: Any = 1,
                   dilation: Any = 1) -> np.ndarray:
    """The im2col patch matrix of a (C, H, W) input, or of each sample of (N, C, H, W).

    Column ``oh * W_out + ow`` holds the receptive field of output pixel ``(oh, ow)``;
    row ``(c * kh + i) * kw + j`` holds input channel ``c`` at kernel offset ``(i, j)``.
    Returns shape ``(C*kh*kw, H_out*W_out)`` for 3-D input, ``(N, C*kh*kw, H_out*W_out)``
    for 4-D input.

    >>> x = np.arange(16.0).reshape(1, 4, 4)
    >>> cols = im2col_numeric(x, 3)
    >>> cols.shape
    (9, 4)
    >>> cols[:, 0]        # the top-left 3x3 window, row-major
    array([ 0.,  1.,  2.,  4.,  5.,  6.,  8.,  9., 10.])
    """
    arr = _as_array("x", x, (3, 4), "(C, H, W) or (N, C, H, W)")
    kernel = _pair("kernel_size", kernel_size, minimum=1)
    pad = _pair("padding", padding, minimum=0)
    st = _pair("stride", stride, minimum=1)
    dil = _pair("dilation", dilation, minimum=1)
    batched = arr.ndim == 4
    x4 = arr if batched else arr[None]
    n, c = x4.shape[:2]
    h_out, w_out = _out_shape(x4.shape[2:], kernel, st, pad, dil)
    view = _patch_view(_pad(x4, pad), kernel, st, dil)      # (C, kh, kw, N, Ho, Wo)
    rows = c * kernel[0] * kernel[1]
    cols = np.ascontiguousarray(view.transpose(3, 0, 1, 2, 4, 5)).reshape(
        n, rows, h_out * w_out)
    return cols if batched else cols[0]
