"""Argument validation and integer output sizes shared by the numeric kernels (private).

Design rule: every public numeric function validates its arguments here, before touching
the data, and raises :class:`~derive.errors.ConfigurationError` (impossible configuration)
or :class:`~derive.errors.InputError` (array of the wrong shape) with a message that names
the argument and quotes its value.  The size formulas are plain integer arithmetic so that
``derive.numeric`` never imports SymPy; the symbolic versions live in ``derive.conv``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from derive.errors import ConfigurationError, InputError, check_positive_int

Pair = tuple[int, int]


def _pair(name: str, value: Any, *, minimum: int) -> Pair:
    """An integer or a pair of integers, each ``>= minimum``, as a pair.

    >>> _pair("stride", 2, minimum=1)
    (2, 2)
    >>> _pair("padding", (0, 1), minimum=0)
    (0, 1)
    """
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ConfigurationError(
                f"got {name}={tuple(value)!r}; {name} must be an integer or a pair of integers")
        first = check_positive_int(f"{name}[0]", value[0], minimum=minimum)
        second = check_positive_int(f"{name}[1]", value[1], minimum=minimum)
        return (first, second)
    one = check_positive_int(name, value, minimum=minimum)
    return (one, one)


def _out_size(size: int, kernel: int, stride: int, padding: int, dilation: int, *,
              axis: str = "height") -> int:
    """Output length of a convolution along one axis: ``floor((n + 2p - d(k-1) - 1)/s) + 1``.

    Raises when the dilated kernel does not fit in the padded input.

    >>> _out_size(56, 3, 1, 1, 1)
    56
    >>> _out_size(5, 3, 2, 1, 1)
    3
    """
    span = dilation * (kernel - 1) + 1
    padded = size + 2 * padding
    if span > padded:
        raise ConfigurationError(
            f"got kernel_size={kernel} with dilation={dilation} (spans {span}) on {axis} "
            f"{size} with padding={padding} (padded {padded}); the dilated kernel must fit "
            f"in the padded input")
    return (padded - span) // stride + 1


def _pool_out_size(size: int, kernel: int, stride: int, padding: int, dilation: int,
                   ceil_mode: bool, *, axis: str = "height") -> int:
    """Output length of a pooling window along one axis, PyTorch's rule.

    ``floor((n + 2p - d(k-1) - 1)/s) + 1``; with ``ceil_mode`` the division rounds up, but
    the last window must start inside the input or the left padding (a window that would
    start in the right padding is dropped).  Padding may be at most half the kernel.

    >>> _pool_out_size(5, 2, 2, 0, 1, False), _pool_out_size(5, 2, 2, 0, 1, True)
    (2, 3)
    >>> _pool_out_size(4, 2, 2, 1, 1, True)  # a 4th window would start in the right padding
    3
    """
    if padding > kernel // 2:
        raise ConfigurationError(
            f"got padding={padding} with kernel_size={kernel} ({axis}); pooling padding "
            f"must be at most half the kernel size ({kernel // 2})")
    span = dilation * (kernel - 1) + 1
    numerator = size + 2 * padding - span + (stride - 1 if ceil_mode else 0)
    out = numerator // stride + 1                      # floor division, also when negative
    if ceil_mode and out >= 1 and (out - 1) * stride >= size + padding:
        out -= 1
    if out < 1:
        raise ConfigurationError(
            f"got kernel_size={kernel} with dilation={dilation} (spans {span}) on {axis} "
            f"{size} with padding={padding}, stride={stride}, ceil_mode={ceil_mode}; "
            f"the output would be empty")
    return out


def _float_dtype(*arrays: np.ndarray) -> np.dtype:
    """The floating dtype of a computation: the arrays' common type, float64 for integers."""
    dtype = np.result_type(*arrays)
    if not np.issubdtype(dtype, np.inexact):
        return np.dtype(np.float64)
    return dtype


def _as_array(name: str, value: Any, ndim: int | tuple[int, ...], layout: str) -> np.ndarray:
    """``value`` as an ndarray with the given number of dimensions, or an InputError."""
    arr = np.asarray(value)
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if arr.ndim not in allowed:
        raise InputError(
            f"got {name} with shape {arr.shape}; {name} must be a {layout} array")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise InputError(f"got {name} with dtype {arr.dtype}; {name} must be numeric")
    return arr


def _check_groups(groups: Any, in_channels: int, out_channels: int) -> int:
    """Validate ``groups`` against the channel counts and return it."""
    groups = check_positive_int("groups", groups)
    if in_channels % groups:
        raise ConfigurationError(
            f"got groups={groups} with {in_channels} input channels; groups must divide "
            f"the number of input channels")
    if out_channels % groups:
        raise ConfigurationError(
            f"got groups={groups} with {out_channels} output channels; groups must divide "
            f"the number of output channels")
    return groups


def _check_bias(b: Any, channels: int) -> np.ndarray | None:
    """``b`` as a 1-D array of length ``channels`` (or None)."""
    if b is None:
        return None
    arr = np.asarray(b)
    if arr.shape != (channels,):
        raise InputError(
            f"got b with shape {arr.shape}; b must have shape ({channels},), one entry per "
            f"output channel")
    return arr
