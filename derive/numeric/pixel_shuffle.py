"""Pixel shuffle (sub-pixel convolution) and its inverse, PyTorch's channel order.

Design rule: a pure re-indexing, done with one reshape and one transpose::

    out[n, c, h*r + i, w*r + j] = x[n, c*r*r + i*r + j, h, w]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from derive.errors import ConfigurationError, check_positive_int
from derive.numeric._config import _as_array

__all__ = ["pixel_shuffle", "pixel_unshuffle"]


def pixel_shuffle(x: Any, r: int) -> np.ndarray:
    """Rearrange ``(..., C*r*r, H, W)`` into ``(..., C, H*r, W*r)``.

    >>> pixel_shuffle(np.arange(4.0).reshape(1, 4, 1, 1), 2)[0, 0]
    array([[0., 1.],
           [2., 3.]])
    """
    arr = _as_array("x", x, (3, 4), "(C*r*r, H, W) or (N, C*r*r, H, W)")
    r = check_positive_int("r", r)
    *lead, channels, height, width = arr.shape
    if channels % (r * r):
        raise ConfigurationError(
            f"got r={r} with {channels} channels; pixel_shuffle needs the channel count "
            f"divisible by r*r = {r * r}")
    c = channels // (r * r)
    y = arr.reshape(*lead, c, r, r, height, width)
    k = len(lead)
    y = y.transpose(*range(k), k, k + 3, k + 1, k + 4, k + 2)   # (.., c, H, i, W, j)
    return np.ascontiguousarray(y).reshape(*lead, c, height * r, width * r)


def pixel_unshuffle(x: Any, r: int) -> np.ndarray:
    """The inverse of :func:`pixel_shuffle`: ``(..., C, H*r, W*r)`` to ``(..., C*r*r, H, W)``.

    >>> x = np.arange(32.0).reshape(1, 8, 2, 2)
    >>> bool((pixel_unshuffle(pixel_shuffle(x, 2), 2) == x).all())
    True
    """
    arr = _as_array("x", x, (3, 4), "(C, H*r, W*r) or (N, C, H*r, W*r)")
    r = check_positive_int("r", r)
    *lead, c, height, width = arr.shape
    if height % r or width % r:
        raise ConfigurationError(
            f"got r={r} with spatial size {height}x{width}; pixel_unshuffle needs height "
            f"and width divisible by r")
    y = arr.reshape(*lead, c, height // r, r, width // r, r)
    k = len(lead)
    y = y.transpose(*range(k), k, k + 2, k + 4, k + 1, k + 3)   # (.., c, i, j, H, W)
    return np.ascontiguousarray(y).reshape(*lead, c * r * r, height // r, width // r)
