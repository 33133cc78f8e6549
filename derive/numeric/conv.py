"""Forward convolution (deep-learning cross-correlation, no flip), NCHW, three ways.

Design rule: one definition, several independent evaluations.  For input ``x`` of shape
``(N, C_in, H, W)`` and weight ``w`` of shape ``(C_out, C_in/groups, kh, kw)``::

    y[n, o, oh, ow] = b[o] + sum_{c, i, j} w[o, c, i, j]
                             * xpad[n, g*C_in/groups + c, oh*sh + i*dh, ow*sw + j*dw],
    g = o // (C_out/groups)

where ``xpad`` is ``x`` zero-padded by ``padding`` on each side.  :func:`conv2d` evaluates it
as im2col plus one matrix product (fast), :func:`conv2d_direct` with explicit loops over the
indices of the sum (the from-scratch reference of exercise 8.9), and
:func:`derive.numeric.toeplitz.conv2d_toeplitz` as a sparse matrix-vector product.  Tests
check that they agree with each other and with PyTorch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from derive.errors import InputError, check_positive_int
from derive.numeric._config import (
    Pair, _as_array, _check_bias, _check_groups, _float_dtype, _out_size, _pair,
)
from derive.numeric.im2col import _out_shape, _patch_view

__all__ = ["conv1d", "conv2d", "conv2d_direct"]


@dataclass(frozen=True)
class _Conv:
    """A validated convolution configuration together with its arrays."""
    x: np.ndarray
    w: np.ndarray
    b: np.ndarray | None
    stride: Pair
    padding: Pair
    dilation: Pair
    groups: int
    out_hw: Pair
    dtype: np.dtype

    @property
    def kernel(self) -> Pair:
        return (self.w.shape[2], self.w.shape[3])


def _prepare(x: Any, w: Any, b: Any, stride: Any, padding: Any, dilation: Any,
             groups: Any) -> _Conv:
    """Validate the arguments of a 2-D convolution; raise with a clear message."""
    xa = _as_array("x", x, 4, "(N, C_in, H, W)")
    wa = _as_array("w", w, 4, "(C_out, C_in/groups, kh, kw)")
    st = _pair("stride", stride, minimum=1)
    pad = _pair("padding", padding, minimum=0)
    dil = _pair("dilation", dilation, minimum=1)
    c_in, c_out = xa.shape[1], wa.shape[0]
    groups = _check_groups(groups, c_in, c_out)
    if wa.shape[1] * groups != c_in:
        raise InputError(
            f"got w with shape {wa.shape} for x with {c_in} channels and groups={groups}; "
            f"w.shape[1] must be C_in/groups = {c_in // groups}")
    if 0 in wa.shape[2:]:
        raise InputError(f"got w with shape {wa.shape}; the kernel must be at least 1x1")
    ba = _check_bias(b, c_out)
    out_hw = _out_shape(xa.shape[2:], (wa.shape[2], wa.shape[3]), st, pad, dil)
    arrays = (xa, wa) if ba is None else (xa, wa, ba)
    return _Conv(xa, wa, ba, st, pad, dil, groups, out_hw, _float_dtype(*arrays))


def _pad_cast(x: np.ndarray, padding: Pair, dtype: np.dtype) -> np.ndarray:
    """``x`` zero-padded on the last two axes and cast to ``dtype``, in one copy."""
    ph, pw = padding
    n, c, h, w = x.shape
    if ph == 0 and pw == 0:
        return x.astype(dtype, copy=False)
    out = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=dtype)
    out[:, :, ph:ph + h, pw:pw + w] = x
    return out


# The patch matrix is built and multiplied per chunk of samples (at least one) of at most
# this many bytes: it bounds the memory, and buffers below glibc's largest mmap threshold
# (32 MiB) are recycled by malloc between calls instead of being page-faulted afresh.
_CHUNK_BYTES = 24 << 20
# Use the row-run layout (see conv2d) when it computes at most this fraction of extra
# columns; otherwise copy the exact patch matrix.
_WIDE_MAX_WASTE = 0.25


def conv2d(x: Any, w: Any, b: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> np.ndarray:
    """2-D convolution of NCHW ``x`` with ``w`` by im2col and one matrix product per group.

    ``stride``, ``padding`` and ``dilation`` are integers or (height, width) pairs; padding
    is symmetric zero padding.  Integer inputs are computed in float64.

    The patch matrix (:func:`im2col_numeric`'s, with the columns of a chunk of samples side
    by side) is multiplied chunk by chunk.  When it costs little, it is built from whole
    padded rows instead: the padded input gets a width ``Wq`` that is a multiple of the
    column stride, and each kernel offset copies one long strided run per channel covering
    ``Wq / stride`` "virtual" output columns per row, of which the first ``W_out`` are real
    (the others are computed and dropped).  Long runs copy several times faster.

    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> w = np.ones((1, 1, 3, 3))
    >>> conv2d(x, w)[0, 0]
    array([[45., 54.],
           [81., 90.]])
    >>> conv2d(x, w, stride=2, padding=1).shape
    (1, 1, 2, 2)
    """
    cfg = _prepare(x, w, b, stride, padding, dilation, groups)
    n_batch, c_in, height, width = cfg.x.shape
    c_out, c_group, kh, kw = cfg.w.shape
    g = cfg.groups
    (sh, sw), (ph, pw), (dh, dw) = cfg.stride, cfg.padding, cfg.dilation
    h_out, w_out = cfg.out_hw
    wq = -(-(width + 2 * pw) // sw) * sw            # padded width, a multiple of sw
    wide = wq // sw - w_out <= _WIDE_MAX_WASTE * w_out
    if wide:
        wv = wq // sw                               # virtual output columns per row
        # enough rows below that a run of h_out*sh rows from any kernel offset fits
        hq = max(height + 2 * ph, (kh - 1) * dh + h_out * sh + 1)
    else:
        wv, wq, hq = w_out, width + 2 * pw, height + 2 * ph
    xpad = np.zeros((n_batch, c_in, hq, wq), dtype=cfg.dtype)
    xpad[:, :, ph:ph + height, pw:pw + width] = cfg.x
    flat = xpad.reshape(n_batch, c_in, hq * wq)
    exact = None if wide else _patch_view(xpad, cfg.kernel, cfg.stride, cfg.dilation)
    run = h_out * sh * wq                           # flat length spanned by one offset

    wm = cfg.w.astype(cfg.dtype, copy=False).reshape(g, c_out // g, c_group * kh * kw)
    out = np.empty((n_batch, c_out, h_out, w_out), dtype=cfg.dtype)
    per_sample = h_out * wv
    sample_bytes = c_in * kh * kw * per_sample * cfg.dtype.itemsize
    chunk = max(1, min(n_batch, _CHUNK_BYTES // max(sample_bytes, 1)))
    buf = np.empty((c_in, kh, kw, chunk, h_out, wv), dtype=cfg.dtype)
    for n0 in range(0, n_batch, chunk):
        nb = min(chunk, n_batch - n0)
        cols = buf[:, :, :, :nb]
        # cols[c, i, j, n, oh, ow] = xpad[n0 + n, c, oh*sh + i*dh, ow*sw + j*dw]
        if exact is not None:
            cols[...] = exact[:, :, :, n0:n0 + nb]
        else:
            for i in range(kh):
                for j in range(kw):
                    start = i * dh * wq + j * dw
                    rows = flat[n0:n0 + nb, :, start:start + run]
                    rows = rows.reshape(nb, c_in, h_out, sh * wq)[:, :, :, :wq:sw]
                    cols[:, i, j] = rows.transpose(1, 0, 2, 3)
        patches = cols.reshape(g, c_group * kh * kw, nb * per_sample)
        prod = wm[0] @ patches[0] if g == 1 else np.matmul(wm, patches)
        prod = prod.reshape(c_out, nb, h_out, wv)
        out[n0:n0 + nb] = prod[:, :, :, :w_out].transpose(1, 0, 2, 3)
    if cfg.b is not None:
        out += cfg.b.astype(cfg.dtype, copy=False)[:, None, None]
    return out


def conv2d_direct(x: Any, w: Any, b: Any = None, stride: Any = 1, padding: Any = 0,
                  dilation: Any = 1, groups: int = 1) -> np.ndarray:
    """2-D convolution by explicit loops over batch, output channel, output pixel and
    kernel offset (exercise 8.9); padding is handled by skipping out-of-range taps.

    Slow by design: it is the reference the fast versions are checked against.

    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> conv2d_direct(x, np.ones((1, 1, 3, 3)), b=[0.5])[0, 0]
    array([[45.5, 54.5],
           [81.5, 90.5]])
    """
    cfg = _prepare(x, w, b, stride, padding, dilation, groups)
    xa = cfg.x.astype(cfg.dtype, copy=False)
    wa = cfg.w.astype(cfg.dtype, copy=False)
    n_batch, _, height, width = xa.shape
    c_out, c_group, kh, kw = wa.shape
    per_group = c_out // cfg.groups
    (sh, sw), (ph, pw), (dh, dw) = cfg.stride, cfg.padding, cfg.dilation
    h_out, w_out = cfg.out_hw
    out = np.zeros((n_batch, c_out, h_out, w_out), dtype=cfg.dtype)
    for n in range(n_batch):
        for o in range(c_out):
            first = (o // per_group) * c_group          # first input channel of o's group
            channels = slice(first, first + c_group)
            for oh in range(h_out):
                for ow in range(w_out):
                    acc = cfg.dtype.type(0) if cfg.b is None else cfg.dtype.type(cfg.b[o])
                    for i in range(kh):
                        ih = oh * sh - ph + i * dh       # row in the unpadded input
                        if ih < 0 or ih >= height:
                            continue                     # a zero of the padding
                        for j in range(kw):
                            iw = ow * sw - pw + j * dw
                            if iw < 0 or iw >= width:
                                continue
                            # sum over the input channels of the group
                            acc += xa[n, channels, ih, iw] @ wa[o, :, i, j]
                    out[n, o, oh, ow] = acc
    return out


def conv1d(x: Any, w: Any, b: Any = None, stride: int = 1, padding: int = 0,
           dilation: int = 1, groups: int = 1) -> np.ndarray:
    """1-D convolution (cross-correlation) of a signal.

    Either a plain signal ``x`` of shape ``(L,)`` with a kernel ``w`` of shape ``(K,)``
    (returns shape ``(L_out,)``), or batched ``x`` of shape ``(N, C_in, L)`` with ``w`` of
    shape ``(C_out, C_in/groups, K)`` (returns ``(N, C_out, L_out)``).

    >>> conv1d([1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 0.0, -1.0])
    array([-2., -2., -2.])
    >>> conv1d([1.0, 2.0, 3.0, 4.0], [1.0, 1.0], stride=2, padding=1)
    array([1., 5., 4.])
    """
    xa = _as_array("x", x, (1, 3), "(L,) or (N, C_in, L)")
    wa = _as_array("w", w, (1, 3), "(K,) or (C_out, C_in/groups, K)")
    if xa.ndim != wa.ndim:
        raise InputError(
            f"got x with shape {xa.shape} and w with shape {wa.shape}; use a 1-D signal with "
            f"a 1-D kernel, or (N, C_in, L) with (C_out, C_in/groups, K)")
    st = check_positive_int("stride", stride)
    pad = check_positive_int("padding", padding, minimum=0)
    dil = check_positive_int("dilation", dilation)
    _out_size(xa.shape[-1], wa.shape[-1], st, pad, dil, axis="length")
    plain = xa.ndim == 1
    x4 = xa.reshape(1, 1, 1, -1) if plain else xa[:, :, None, :]
    w4 = wa.reshape(1, 1, 1, -1) if plain else wa[:, :, None, :]
    out = conv2d(x4, w4, b, stride=(1, st), padding=(0, pad), dilation=(1, dil),
                 groups=groups)
    return out[0, 0, 0] if plain else out[:, :, 0, :]
