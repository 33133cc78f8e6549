"""The backward pass of a 2-D convolution, evaluated from the derived formulas.

Design rule: gradients are computed from the closed forms obtained by differentiating the
indexed sum (see :mod:`derive.numeric.conv`), never by finite differences (those live in
:mod:`derive.numeric.finite_diff` and only serve as an independent check).  With ``xpad``
the padded input, ``g = dL/dy`` of shape ``(N, C_out, H_out, W_out)``, stride ``s`` and
dilation ``d`` (one group shown; groups act block-diagonally)::

    dL/db[o]          = sum_{n, oh, ow} g[n, o, oh, ow]
    dL/dw[o, c, i, j] = sum_{n, oh, ow} xpad[n, c, oh*s + i*d, ow*s + j*d] * g[n, o, oh, ow]
                        -- the cross-correlation of xpad with g used as a kernel dilated by
                           s (the "stride-dilated" upstream gradient), taken with step d;
    dL/dxpad[n, c, a, b] = sum_{o, i, j} gs[n, o, a - i*d, b - j*d] * w[o, c, i, j]
                        -- a *full* convolution of gs (g with s - 1 zeros stuffed between
                           entries) with w, i.e. a cross-correlation of gs, padded by
                           d*(k - 1), with the FLIPPED kernel w[o, c, k-1-i, k-1-j] whose
                           in/out channels are swapped; dL/dx crops the padding off again.

Rows and columns of ``xpad`` that no window reaches (when ``H + 2p - d(k-1) - 1`` is not a
multiple of ``s``) get gradient zero.  The same computation is the transposed convolution
(:mod:`derive.numeric.transposed`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from derive.errors import InputError
from derive.numeric._config import Pair, _as_array, _float_dtype, _pair
from derive.numeric.conv import _pad_cast, _prepare, conv2d

__all__ = ["conv2d_backward", "flip_kernel", "stride_dilate"]


def stride_dilate(g: Any, stride: Any) -> np.ndarray:
    """Insert ``stride - 1`` zeros between neighbouring entries of the last two axes.

    >>> stride_dilate(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), 2)[0, 0]
    array([[1., 0., 2.],
           [0., 0., 0.],
           [3., 0., 4.]])
    """
    arr = _as_array("g", g, 4, "(N, C, H, W)")
    sh, sw = _pair("stride", stride, minimum=1)
    if sh == 1 and sw == 1:
        return arr
    n, c, h, w = arr.shape
    out = np.zeros((n, c, (h - 1) * sh + 1, (w - 1) * sw + 1), dtype=arr.dtype)
    out[:, :, ::sh, ::sw] = arr
    return out


def flip_kernel(w: Any, groups: int = 1) -> np.ndarray:
    """The kernel flip of the input gradient: rotate each 2-D filter by 180 degrees and
    swap input and output channels within each group.

    ``w`` of shape ``(C_out, C_in/groups, kh, kw)`` becomes ``(C_in, C_out/groups, kh, kw)``
    with ``flipped[g*C_in/G + c, o, i, j] == w[g*C_out/G + o, c, kh-1-i, kw-1-j]``.

    >>> flip_kernel(np.arange(4.0).reshape(1, 1, 2, 2))[0, 0]
    array([[3., 2.],
           [1., 0.]])
    """
    wa = _as_array("w", w, 4, "(C_out, C_in/groups, kh, kw)")
    c_out, c_group, kh, kw = wa.shape
    if groups < 1 or c_out % groups:
        raise InputError(f"got groups={groups} for {c_out} output channels; groups must "
                         f"divide the number of output channels")
    rotated = wa[:, :, ::-1, ::-1]                     # the flip: i -> kh-1-i, j -> kw-1-j
    per_group = rotated.reshape(groups, c_out // groups, c_group, kh, kw)
    swapped = per_group.transpose(0, 2, 1, 3, 4)       # in/out channels exchanged
    return np.ascontiguousarray(swapped).reshape(groups * c_group, c_out // groups, kh, kw)


def _input_gradient(g: np.ndarray, w: np.ndarray, stride: Pair, padding: Pair,
                    dilation: Pair, groups: int, in_hw: Pair) -> np.ndarray:
    """dL/dx of size ``in_hw``: full convolution of the stride-dilated ``g`` with the
    flipped kernel, then the padding cropped off (shared with the transposed convolution)."""
    kh, kw = w.shape[2:]
    (ph, pw), (dh, dw) = padding, dilation
    gs = stride_dilate(g, stride)
    full = conv2d(gs, flip_kernel(w, groups), padding=((kh - 1) * dh, (kw - 1) * dw),
                  dilation=dilation, groups=groups)
    # ``full`` covers the rows/columns of xpad some window reaches; the rest get zero.
    height, width = in_hw
    grad_xpad = np.zeros(full.shape[:2] + (height + 2 * ph, width + 2 * pw), dtype=full.dtype)
    rows, cols = min(full.shape[2], grad_xpad.shape[2]), min(full.shape[3], grad_xpad.shape[3])
    grad_xpad[:, :, :rows, :cols] = full[:, :, :rows, :cols]
    return np.ascontiguousarray(grad_xpad[:, :, ph:ph + height, pw:pw + width])


def _weight_gradient(xpad: np.ndarray, g: np.ndarray, kernel: Pair, stride: Pair,
                     dilation: Pair, groups: int) -> np.ndarray:
    """dL/dw: cross-correlation of the padded input with the stride-dilated ``g``.

    Batch and channel axes change roles: the input channels become the batch and the
    batch becomes the channel being summed; the kernel is ``g`` with dilation ``stride``,
    and the step between kernel offsets is the forward ``dilation``.
    """
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    h_out, w_out = g.shape[2:]
    used_h = (kh - 1) * dh + (h_out - 1) * sh + 1      # rows of xpad some window reaches
    used_w = (kw - 1) * dw + (w_out - 1) * sw + 1
    c_group = xpad.shape[1] // groups
    o_group = g.shape[1] // groups
    parts = []
    for k in range(groups):
        xg = xpad[:, k * c_group:(k + 1) * c_group, :used_h, :used_w].transpose(1, 0, 2, 3)
        gg = g[:, k * o_group:(k + 1) * o_group].transpose(1, 0, 2, 3)
        corr = conv2d(xg, gg, stride=dilation, dilation=stride)   # (C/G, C_out/G, kh, kw)
        parts.append(corr.transpose(1, 0, 2, 3))
    return np.ascontiguousarray(np.concatenate(parts, axis=0))


def conv2d_backward(x: Any, w: Any, grad_out: Any, stride: Any = 1, padding: Any = 0,
                    dilation: Any = 1, groups: int = 1
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients ``(grad_x, grad_w, grad_b)`` of a loss through ``conv2d(x, w, b, ...)``,
    given the upstream gradient ``grad_out = dL/dy``; NCHW, from the derived formulas.

    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> w = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    >>> gx, gw, gb = conv2d_backward(x, w, np.ones((1, 1, 2, 2)))
    >>> gx[0, 0]             # each input pixel collects the kernel taps that read it
    array([[ 1.,  3.,  2.],
           [ 4., 10.,  6.],
           [ 3.,  7.,  4.]])
    >>> gw[0, 0], gb
    (array([[ 8., 12.],
           [20., 24.]]), array([4.]))
    """
    cfg = _prepare(x, w, None, stride, padding, dilation, groups)
    g = _as_array("grad_out", grad_out, 4, "(N, C_out, H_out, W_out)")
    expected = (cfg.x.shape[0], cfg.w.shape[0]) + cfg.out_hw
    if g.shape != expected:
        raise InputError(
            f"got grad_out with shape {g.shape}; the convolution output has shape {expected}")
    dtype = _float_dtype(cfg.x, cfg.w, g)
    ga = g.astype(dtype, copy=False)
    wa = cfg.w.astype(dtype, copy=False)
    grad_b = ga.sum(axis=(0, 2, 3))
    xpad = _pad_cast(cfg.x, cfg.padding, dtype)
    grad_w = _weight_gradient(xpad, ga, cfg.kernel, cfg.stride, cfg.dilation, cfg.groups)
    grad_x = _input_gradient(ga, wa, cfg.stride, cfg.padding, cfg.dilation, cfg.groups,
                             cfg.x.shape[2:])
    return grad_x, grad_w, grad_b
