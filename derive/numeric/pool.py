"""Max and average pooling with PyTorch's size and padding rules.

Design rule: one strided window view of the padded input, one reduction.  The output size
follows PyTorch: ``floor((n + 2p - d(k-1) - 1)/s) + 1``, rounded up instead with
``ceil_mode`` as long as the last window starts inside the input or the left padding;
padding is at most half the kernel.  Max pooling pads with ``-inf`` (padding never wins);
average pooling divides by the window size clipped to the padded input
(``count_include_pad=True``) or to the input itself (``False``), as PyTorch does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from derive.errors import check_positive_int
from derive.numeric._config import Pair, _as_array, _float_dtype, _pair, _pool_out_size

__all__ = ["avg_pool2d", "max_pool2d"]


def _setup(x: Any, kernel_size: Any, stride: Any, padding: Any, dilation: Any,
           ceil_mode: bool) -> tuple[np.ndarray, Pair, Pair, Pair, Pair, Pair]:
    arr = _as_array("x", x, (3, 4), "(C, H, W) or (N, C, H, W)")
    kernel = _pair("kernel_size", kernel_size, minimum=1)
    st = kernel if stride is None else _pair("stride", stride, minimum=1)
    pad = _pair("padding", padding, minimum=0)
    dil = _pair("dilation", dilation, minimum=1)
    out = (_pool_out_size(arr.shape[-2], kernel[0], st[0], pad[0], dil[0], bool(ceil_mode),
                          axis="height"),
           _pool_out_size(arr.shape[-1], kernel[1], st[1], pad[1], dil[1], bool(ceil_mode),
                          axis="width"))
    return arr, kernel, st, pad, dil, out


def _windows(x: np.ndarray, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair,
             out: Pair, fill: float) -> np.ndarray:
    """View ``(..., H_out, W_out, kh, kw)`` of the windows; ``fill`` outside the input."""
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    pads = [(0, 0)] * (x.ndim - 2)
    for axis in range(2):
        n = x.shape[x.ndim - 2 + axis]
        needed = max(n + 2 * padding[axis], (out[axis] - 1) * stride[axis] + spans[axis])
        pads.append((padding[axis], needed - n - padding[axis]))
    xp = np.pad(x, pads, constant_values=fill)
    view = sliding_window_view(xp, tuple(spans), axis=(-2, -1))
    view = view[..., ::stride[0], ::stride[1], ::dilation[0], ::dilation[1]]
    return view[..., :out[0], :out[1], :, :]


def max_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False) -> np.ndarray:
    """Max pooling of a (C, H, W) or (N, C, H, W) array; ``stride`` defaults to the kernel.

    >>> x = np.arange(25.0).reshape(1, 1, 5, 5)
    >>> max_pool2d(x, 2)[0, 0]
    array([[ 6.,  8.],
           [16., 18.]])
    >>> max_pool2d(x, 2, ceil_mode=True)[0, 0]
    array([[ 6.,  8.,  9.],
           [16., 18., 19.],
           [21., 23., 24.]])
    """
    arr, kernel, st, pad, dil, out = _setup(x, kernel_size, stride, padding, dilation,
                                            ceil_mode)
    arr = arr.astype(_float_dtype(arr), copy=False)
    return _windows(arr, kernel, st, pad, dil, out, -np.inf).max(axis=(-2, -1))


def _divisor_1d(size: int, kernel: int, stride: int, padding: int, out: int,
                count_include_pad: bool) -> np.ndarray:
    """Per output position along one axis: PyTorch's averaging window length."""
    start = np.arange(out) * stride - padding
    end = np.minimum(start + kernel, size + padding)    # the window clipped to the padding
    if count_include_pad:
        return end - start
    return np.maximum(np.minimum(end, size) - np.maximum(start, 0), 0)


def avg_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> np.ndarray:
    """Average pooling of a (C, H, W) or (N, C, H, W) array, PyTorch's divisor rules.

    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> avg_pool2d(x, 2)[0, 0]
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    >>> avg_pool2d(x, 2, padding=1, count_include_pad=False)[0, 0, 0]
    array([0. , 1.5, 3. ])
    """
    arr, kernel, st, pad, dil, out = _setup(x, kernel_size, stride, padding, 1, ceil_mode)
    arr = arr.astype(_float_dtype(arr), copy=False)
    sums = _windows(arr, kernel, st, pad, dil, out, 0.0).sum(axis=(-2, -1))
    if divisor_override is not None:
        divisor = check_positive_int("divisor_override", divisor_override)
        return sums / divisor
    dh = _divisor_1d(arr.shape[-2], kernel[0], st[0], pad[0], out[0], count_include_pad)
    dw = _divisor_1d(arr.shape[-1], kernel[1], st[1], pad[1], out[1], count_include_pad)
    divisor = np.outer(dh, dw).astype(arr.dtype)
    # A window with no input element averages to 0 (PyTorch's convention).
    safe = np.where(divisor > 0, divisor, 1)
    return np.where(divisor > 0, sums / safe, 0.0).astype(arr.dtype, copy=False)
