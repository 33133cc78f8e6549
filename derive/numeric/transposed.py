"""Transposed convolution, PyTorch's conventions, as a direct convolution.

Design rule: the transposed convolution is the adjoint of a convolution (its matrix is the
transpose of the convolution's Toeplitz matrix), so it is evaluated exactly like the input
gradient of :mod:`derive.numeric.backward`: stuff ``stride - 1`` zeros between input
entries, pad by ``dilation*(k - 1)``, cross-correlate with the flipped, channel-swapped
kernel, crop ``padding`` from each side and keep ``output_padding`` extra rows/columns at
the bottom/right (Dumoulin & Visin, relationships 12 to 14).  Output size per axis::

    H_out = (H - 1)*stride - 2*padding + dilation*(k - 1) + output_padding + 1
"""

from __future__ import annotations

from typing import Any

import numpy as np

from derive.errors import ConfigurationError, InputError, check_positive_int
from derive.numeric._config import (
    _as_array, _check_bias, _check_groups, _float_dtype, _pair,
)
from derive.numeric.backward import _input_gradient

__all__ = ["conv_transpose2d"]


def conv_transpose2d(x: Any, w: Any, b: Any = None, stride: Any = 1, padding: Any = 0,
                     output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> np.ndarray:
    """Transposed 2-D convolution of NCHW ``x`` with ``w`` of shape
    ``(C_in, C_out/groups, kh, kw)`` (argument order of ``torch.nn.functional``).

    ``output_padding`` must be smaller than ``stride`` or ``dilation`` (per axis): it picks
    one of the input sizes that a strided convolution maps to the same output size.

    >>> x = np.ones((1, 1, 2, 2))
    >>> conv_transpose2d(x, np.ones((1, 1, 3, 3)), stride=2)[0, 0]
    array([[1., 1., 2., 1., 1.],
           [1., 1., 2., 1., 1.],
           [2., 2., 4., 2., 2.],
           [1., 1., 2., 1., 1.],
           [1., 1., 2., 1., 1.]])
    >>> conv_transpose2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)), stride=2, padding=1,
    ...                  output_padding=1).shape
    (1, 1, 6, 6)
    """
    xa = _as_array("x", x, 4, "(N, C_in, H, W)")
    wa = _as_array("w", w, 4, "(C_in, C_out/groups, kh, kw)")
    st = _pair("stride", stride, minimum=1)
    pad = _pair("padding", padding, minimum=0)
    out_pad = _pair("output_padding", output_padding, minimum=0)
    dil = _pair("dilation", dilation, minimum=1)
    c_in = xa.shape[1]
    if wa.shape[0] != c_in:
        raise InputError(
            f"got w with shape {wa.shape} for x with {c_in} channels; a transposed "
            f"convolution's w.shape[0] must equal C_in = {c_in}")
    groups = check_positive_int("groups", groups)
    _check_groups(groups, c_in, wa.shape[1] * groups)
    c_out = wa.shape[1] * groups
    ba = _check_bias(b, c_out)
    sizes = []
    for axis, (n, k, s, p, op, d) in enumerate(zip(xa.shape[2:], wa.shape[2:], st, pad,
                                                   out_pad, dil)):
        name = ("height", "width")[axis]
        if op >= s and op >= d:
            raise ConfigurationError(
                f"got output_padding={op} with stride={s} and dilation={d} ({name}); "
                f"output_padding must be smaller than stride or dilation")
        size = (n - 1) * s - 2 * p + d * (k - 1) + op + 1
        if size < 1:
            raise ConfigurationError(
                f"got padding={p} on {name} {n} with kernel_size={k}, stride={s}, "
                f"dilation={d}; the output size (n-1)*s - 2p + d(k-1) + output_padding + 1 "
                f"= {size} must be >= 1")
        sizes.append(size)
    arrays = (xa, wa) if ba is None else (xa, wa, ba)
    dtype = _float_dtype(*arrays)
    # x plays the upstream gradient of a convolution with weight w (C_out_conv = C_in).
    out = _input_gradient(xa.astype(dtype, copy=False), wa.astype(dtype, copy=False), st,
                          pad, dil, groups, (sizes[0], sizes[1]))
    if ba is not None:
        out += ba.astype(dtype, copy=False)[:, None, None]
    return out
