"""im2col: the receptive field of every output position as one column of a patch matrix.

Design rule: which input entry sits at row ``(c, u, v)`` and column ``(i, j)`` is read off
the indexed-sum model (the same index map as the Toeplitz matrix of
:mod:`derive.conv.toeplitz`): column ``i*W_out + j`` holds ``x_pad[c, S*i + D*u, S*j + D*v]``
at row ``(c*kh + u)*kw + v``, zero where the tap falls in the padding.  So the kernel
reshaped into a row, ``w.reshape(C_out, C*kh*kw)``, times the patch matrix is the
convolution, one output channel per row; :func:`prove_im2col` checks that against the
model entry by entry.

Numbers in, NumPy out (delegated to :func:`derive.numeric.im2col_numeric`); SymPy entries
in, an immutable SymPy matrix of shape ``(C*kh*kw, H_out*W_out)`` out.

>>> from derive.conv.toeplitz import symbolic_kernel
>>> X = im2col(symbolic_kernel((1, 3, 3), "x"), 2)
>>> X.shape
(4, 4)
>>> list(X[:, 0])
[x[0, 0, 0], x[0, 0, 1], x[0, 1, 0], x[0, 1, 1]]
"""

from __future__ import annotations

import itertools
from typing import Any, Sequence

import sympy

from derive.check.verdict import Status, Verdict
from derive.errors import ConfigurationError, InputError, check_positive_int

__all__ = ["im2col", "patch_matrix_shape", "prove_im2col", "prove_im2col_bounded"]


def _pair(name: str, value: Any, minimum: int) -> tuple[int, int]:
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ConfigurationError(f"got {name}={tuple(value)!r}; expected one integer or "
                                     "a pair (height, width)")
        return (check_positive_int(f"{name}[0]", value[0], minimum=minimum),
                check_positive_int(f"{name}[1]", value[1], minimum=minimum))
    v = check_positive_int(name, value, minimum=minimum)
    return (v, v)


def patch_matrix_shape(size: Sequence[Any], kernel_size: Any, padding: Any = 0,
                       stride: Any = 1, dilation: Any = 1, channels: Any = 1
                       ) -> tuple[Any, Any]:
    """``(C*kh*kw, H_out*W_out)``, from :func:`derive.conv.shapes.output_size` (symbolic
    sizes allowed).

    >>> patch_matrix_shape((4, 4), 2)
    (4, 9)
    >>> from derive.symbols import syms
    >>> H, K, C = syms("H K C")
    >>> patch_matrix_shape((H, H), K, channels=C)
    (C*K**2, (H - K + 1)**2)
    """
    from derive.conv.shapes import output_size

    if len(size) != 2:
        raise InputError(f"got size={tuple(size)!r}; expected (H, W)")
    ks = kernel_size if isinstance(kernel_size, (tuple, list)) else (kernel_size, kernel_size)
    pads = padding if isinstance(padding, (tuple, list)) else (padding, padding)
    strides = stride if isinstance(stride, (tuple, list)) else (stride, stride)
    dils = dilation if isinstance(dilation, (tuple, list)) else (dilation, dilation)
    outs = [output_size(size[a], ks[a], pads[a], strides[a], dils[a]) for a in range(2)]
    return (channels * ks[0] * ks[1], outs[0] * outs[1])


def _as_array(x: Any) -> Any:
    import numpy as np

    if isinstance(x, str):
        raise InputError(f"got x={x!r}; expected an array (text is never evaluated)")
    if isinstance(x, sympy.MatrixBase):
        return np.array(x.tolist(), dtype=object)
    return np.array(x, dtype=object)


def im2col(x: Any, kernel_size: Any, padding: Any = 0, stride: Any = 1,
           dilation: Any = 1) -> Any:
    """The patch matrix of an ``(H, W)`` or ``(C, H, W)`` input, shape
    ``(C*kh*kw, H_out*W_out)`` (NumPy for numbers, also ``(N, C, H, W)``; SymPy for
    symbolic entries).

    >>> import numpy as np
    >>> im2col(np.arange(16.0).reshape(4, 4), 3).shape
    (9, 4)
    >>> im2col(np.arange(16.0).reshape(1, 4, 4), 3)[:, 3]
    array([ 5.,  6.,  7.,  9., 10., 11., 13., 14., 15.])
    """
    import numpy as np

    arr = _as_array(x)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim not in (3, 4) or arr.size == 0:
        raise InputError(f"got x with shape {arr.shape}; expected (H, W), (C, H, W) or "
                         "(N, C, H, W)")
    symbolic = any(isinstance(v, sympy.Basic) for v in arr.ravel())
    if not symbolic:
        from derive.numeric import im2col_numeric
        try:
            values = arr.astype(float)
        except (TypeError, ValueError):
            raise InputError("got x with entries that are neither numbers nor SymPy "
                             "expressions") from None
        return im2col_numeric(values, kernel_size, padding=padding, stride=stride,
                              dilation=dilation)
    if arr.ndim == 4:
        raise InputError("a symbolic im2col takes one sample, (H, W) or (C, H, W)")
    from derive.conv.toeplitz import _layout, _model, _to_sympy

    ks = _pair("kernel_size", kernel_size, 1)
    pad = _pair("padding", padding, 0)
    st = _pair("stride", stride, 1)
    dil = _pair("dilation", dilation, 1)
    c, h, w = arr.shape
    layout = _layout(_model((h, w), ks, st, pad, dil, c, 1, 1))
    flat = arr.ravel()
    cols = layout.shape[0]
    data: dict[tuple[int, int], Any] = {}
    for row, col, (_, ch, u, v) in layout.entries:
        data[((ch * ks[0] + u) * ks[1] + v, row)] = _to_sympy(flat[col])
    return sympy.ImmutableMatrix(sympy.SparseMatrix(c * ks[0] * ks[1], cols, data))


def prove_im2col(size: Sequence[int], kernel_size: Any, padding: Any = 0, stride: Any = 1,
                 dilation: Any = 1, in_channels: int = 1, out_channels: int = 1) -> Verdict:
    """Check ``w.reshape(C_out, C*kh*kw) @ im2col(x)`` against the model's expansion of
    every output entry (exercise 8.21(b) for ``(4, 4)`` and ``3``).

    >>> prove_im2col((4, 4), 3).status.value
    'proved'
    """
    from derive.check.engine import check_exprs
    from derive.conv.toeplitz import _model

    ks = _pair("kernel_size", kernel_size, 1)
    pad = _pair("padding", padding, 0)
    st = _pair("stride", stride, 1)
    dil = _pair("dilation", dilation, 1)
    cin = check_positive_int("in_channels", in_channels)
    cout = check_positive_int("out_channels", out_channels)
    h, w = (check_positive_int("size[0]", size[0]), check_positive_int("size[1]", size[1]))
    model = _model((h, w), ks, st, pad, dil, cin, cout, 1)
    x = [[[model.x[0, c, i, j] for j in range(w)] for i in range(h)] for c in range(cin)]
    patches = im2col(x, ks, pad, st, dil)
    rows = sympy.ImmutableMatrix(cout, cin * ks[0] * ks[1], [
        model.w[o, c, u, v] for o in range(cout) for c in range(cin) for u in range(ks[0])
        for v in range(ks[1])])
    _, _, ho, wo = model.output_shape
    expected = sympy.ImmutableMatrix(cout, ho * wo, [
        model.expand((0, o, i, j)) for o in range(cout) for i in range(ho) for j in range(wo)])
    if patches.shape != (cin * ks[0] * ks[1], ho * wo):  # pragma: no cover - by construction
        return Verdict(Status.REFUTED, "patch matrix shape", counterexample={},
                       lhs_value=patches.shape, rhs_value=(cin * ks[0] * ks[1], ho * wo))
    return check_exprs(sympy.ImmutableMatrix(rows * patches), expected)


def prove_im2col_bounded(max_hw: int = 4, max_k: int = 3, max_s: int = 2, max_d: int = 2,
                         max_p: int = 1, max_c: int = 2) -> Verdict:
    """:func:`prove_im2col` for every configuration up to the bounds (square kernels,
    ``C_out = 1``), combined.

    >>> v = prove_im2col_bounded(2, 2, 1, 1, 0, 1)
    >>> v.status.value, v.method.split(" (")[0]
    ('proved', 'finite expansion for all H, W <= 2, k <= 2, s <= 1, d <= 1, p <= 0, C <= 1')
    """
    count = 0
    for h, w, k, s, d, p, c in itertools.product(
            range(1, max_hw + 1), range(1, max_hw + 1), range(1, max_k + 1),
            range(1, max_s + 1), range(1, max_d + 1), range(0, max_p + 1),
            range(1, max_c + 1)):
        span = d * (k - 1) + 1
        if span > h + 2 * p or span > w + 2 * p:
            continue
        v = prove_im2col((h, w), k, p, s, d, c)
        count += 1
        if v.status is not Status.PROVED:
            return Verdict(v.status, f"at H={h}, W={w}, k={k}, s={s}, d={d}, p={p}, C={c}: "
                           f"{v.method}", claim="w_row @ im2col(x) == y (model)",
                           counterexample=v.counterexample, lhs_value=v.lhs_value,
                           rhs_value=v.rhs_value)
    bounds = f"H, W <= {max_hw}, k <= {max_k}, s <= {max_s}, d <= {max_d}, p <= {max_p}, " \
             f"C <= {max_c}"
    return Verdict(Status.PROVED, f"finite expansion for all {bounds} ({count} "
                   "configurations whose kernel fits; every output entry an exact polynomial "
                   "identity checked by the checker)",
                   claim="w_row @ im2col(x) == y (model)", instances=count)
