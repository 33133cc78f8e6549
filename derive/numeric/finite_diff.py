"""Central finite differences, the independent check on analytic gradients.

Design rule: differencing is only ever a *check*.  ``(f(x + h e_k) - f(x - h e_k)) / 2h``
has error O(h^2) for smooth ``f``; the engine's gradients come from derived formulas
(:mod:`derive.numeric.backward`) and are compared against these numbers, in float64.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from derive.errors import InputError

__all__ = ["directional_derivative", "numerical_gradient"]


def _step(eps: float) -> float:
    step = float(eps)
    if not step > 0.0:
        raise InputError(f"got eps={eps!r}; eps must be a positive step size")
    return step


def numerical_gradient(f: Callable[[np.ndarray], Any], x: Any,
                       eps: float = 1e-6) -> np.ndarray:
    """Gradient of a scalar function ``f`` at ``x`` by central differences, entry by entry.

    ``x`` is copied to float64; ``f`` is called ``2 * x.size`` times.

    >>> g = numerical_gradient(lambda a: float((a ** 2).sum()), np.array([1.0, -2.0]))
    >>> np.round(g, 6)
    array([ 2., -4.])
    """
    step = _step(eps)
    base = np.array(x, dtype=np.float64)
    grad = np.zeros_like(base)
    flat, out = base.reshape(-1), grad.reshape(-1)
    for k in range(flat.size):
        keep = flat[k]
        flat[k] = keep + step
        plus = float(f(base))
        flat[k] = keep - step
        minus = float(f(base))
        flat[k] = keep
        out[k] = (plus - minus) / (2.0 * step)
    return grad


def directional_derivative(f: Callable[[np.ndarray], Any], x: Any, direction: Any,
                           eps: float = 1e-6) -> float:
    """Derivative of ``f`` at ``x`` along ``direction`` by one central difference
    (two calls of ``f``); compare with ``(grad * direction).sum()`` for large inputs.

    >>> round(directional_derivative(lambda a: float((a ** 2).sum()), [1.0, 2.0], [1.0, 1.0]), 6)
    6.0
    """
    step = _step(eps)
    base = np.asarray(x, dtype=np.float64)
    v = np.asarray(direction, dtype=np.float64)
    if v.shape != base.shape:
        raise InputError(
            f"got direction with shape {v.shape}; it must match x with shape {base.shape}")
    return (float(f(base + step * v)) - float(f(base - step * v))) / (2.0 * step)
