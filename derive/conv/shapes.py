"""Output sizes of convolution, pooling and transposed convolution along one axis.

Design rule: one function per size rule, each accepting plain integers (and returning an
``int``) or SymPy expressions (and returning the closed form).  The rules follow PyTorch:
``floor((n + 2p - d(k-1) - 1)/s) + 1`` for convolution and pooling, the ``ceil_mode`` rule
that drops a last window starting beyond the input and its left padding, and the
transposed-convolution rule ``(n-1)s - 2p + d(k-1) + output_padding + 1``.

The convolution size is not an axiom here: :mod:`derive.conv.model` derives it from the
indexed-sum model and :mod:`derive.conv.theorems` proves the two agree.  Invalid
configurations raise :class:`~derive.errors.ConfigurationError` naming the argument and value.

>>> output_size(32, 3, padding=1)
32
>>> from derive.symbols import syms
>>> H, K, P, S, D = syms("H K P S D")
>>> output_size(H, K, P, S, D)
floor((-D*(K - 1) + H + 2*P - 1)/S) + 1
"""

from __future__ import annotations

import numbers
from typing import Any, Union

import sympy

from derive.symbols import as_expr

from derive.errors import ConfigurationError, check_positive_int

Size = Union[int, sympy.Expr]

__all__ = [
    "Size",
    "effective_kernel",
    "full_padding",
    "half_padding",
    "output_size",
    "output_size_argument",
    "output_size_assumptions",
    "output_size_derivation",
    "pool_output_size",
    "same_padding",
    "transposed_output_size",
]


# --------------------------------------------------------------------------- validation

def _is_number(value: object) -> bool:
    return (isinstance(value, numbers.Integral) and not isinstance(value, bool)) or (
        isinstance(value, sympy.Basic) and value.is_Integer is True)


def _arg(name: str, value: object, minimum: int) -> Size:
    """An integer ``>= minimum`` (returned as ``int``) or a SymPy expression.

    Symbolic values are accepted unless they are decidably non-integer or below ``minimum``.
    """
    if isinstance(value, bool):
        raise ConfigurationError(f"got {name}={value!r}; {name} must be an integer >= {minimum}")
    if _is_number(value):
        return check_positive_int(name, int(value), minimum=minimum)  # type: ignore[arg-type]
    if isinstance(value, sympy.Basic) and isinstance(value, sympy.Expr):
        if value.is_integer is False or (not value.free_symbols):
            raise ConfigurationError(
                f"got {name}={value}; {name} must be an integer >= {minimum}")
        if (value - minimum).is_negative:
            raise ConfigurationError(
                f"got {name}={value}; {name} must be an integer >= {minimum}")
        return value
    raise ConfigurationError(
        f"got {name}={value!r}; {name} must be an integer >= {minimum} or a SymPy expression")


def _all_numbers(*values: Size) -> bool:
    return all(isinstance(v, int) for v in values)


def effective_kernel(kernel: Size, dilation: Size = 1) -> Size:
    """Width of a dilated kernel: ``d(k - 1) + 1`` input positions from first to last tap.

    >>> effective_kernel(3, 2)
    5
    """
    k = _arg("kernel", kernel, 1)
    d = _arg("dilation", dilation, 1)
    return d * (k - 1) + 1


def _check_fits(n: Size, k: Size, p: Size, d: Size, kernel: object, dilation: object) -> None:
    """Raise when the (dilated) kernel is decidably wider than the padded input."""
    eff = d * (k - 1) + 1
    room = n + 2 * p
    if _all_numbers(n, k, p, d):
        too_wide = eff > room  # type: ignore[operator]
    else:
        too_wide = bool(as_expr(room - eff).is_negative)
    if too_wide:
        extra = f" (dilation={dilation}, effective width {eff})" if d != 1 else ""
        raise ConfigurationError(
            f"got kernel={kernel}{extra}, wider than the padded input n + 2*padding = {room} "
            f"(n={n}, padding={p}); the kernel must fit inside the padded input")


# --------------------------------------------------------------------------- convolution

def output_size(n: Size, kernel: Size, padding: Size = 0, stride: Size = 1,
                dilation: Size = 1) -> Size:
    """Number of output positions of a convolution along one axis.

    ``floor((n + 2*padding - dilation*(kernel - 1) - 1)/stride) + 1``: the windows start at
    ``0, stride, 2*stride, ...`` in the padded input and must end inside it.

    >>> output_size(5, 3, padding=1, stride=2)
    3
    >>> output_size(7, 3, dilation=2)
    3
    >>> output_size(2, 3)
    Traceback (most recent call last):
    ...
    derive.errors.ConfigurationError: got kernel=3, wider than the padded input n + 2*padding = 2 (n=2, padding=0); the kernel must fit inside the padded input
    """
    n_ = _arg("n", n, 1)
    k = _arg("kernel", kernel, 1)
    p = _arg("padding", padding, 0)
    s = _arg("stride", stride, 1)
    d = _arg("dilation", dilation, 1)
    _check_fits(n_, k, p, d, kernel, dilation)
    if _all_numbers(n_, k, p, s, d):
        return (n_ + 2 * p - d * (k - 1) - 1) // s + 1  # type: ignore[operator]
    return sympy.floor((n_ + 2 * p - d * (k - 1) - 1) / s) + 1


# --------------------------------------------------------------------------- pooling

def pool_output_size(n: Size, kernel: Size, padding: Size = 0, stride: Size | None = None,
                     dilation: Size = 1, ceil_mode: bool = False) -> Size:
    """Number of output positions of max/average pooling (PyTorch's rule).

    ``stride`` defaults to ``kernel``.  With ``ceil_mode`` the division rounds up, and a last
    window that would start beyond the input and its left padding is dropped.  As in
    PyTorch, ``padding`` may be at most half the effective kernel width.

    >>> pool_output_size(5, 2)
    2
    >>> pool_output_size(5, 2, ceil_mode=True)
    3
    >>> pool_output_size(6, 3, padding=1, stride=2, ceil_mode=True)
    4
    """
    n_ = _arg("n", n, 1)
    k = _arg("kernel", kernel, 1)
    p = _arg("padding", padding, 0)
    s = k if stride is None else _arg("stride", stride, 1)
    d = _arg("dilation", dilation, 1)
    if not isinstance(ceil_mode, bool):
        raise ConfigurationError(f"got ceil_mode={ceil_mode!r}; ceil_mode must be True or False")
    eff = d * (k - 1) + 1
    if _all_numbers(p, k) and p > k // 2:  # type: ignore[operator]
        raise ConfigurationError(
            f"got padding={p}; pooling padding must be at most half the kernel size "
            f"(kernel={k}), i.e. <= {k // 2}")  # type: ignore[operator]
    if not ceil_mode:
        _check_fits(n_, k, p, d, kernel, dilation)
        if _all_numbers(n_, k, p, s, d):
            return (n_ + 2 * p - eff) // s + 1  # type: ignore[operator]
        return sympy.floor((n_ + 2 * p - d * (k - 1) - 1) / s) + 1
    if _all_numbers(n_, k, p, s, d):
        out = (n_ + 2 * p - eff + s - 1) // s + 1  # type: ignore[operator]
        if (out - 1) * s >= n_ + p:  # type: ignore[operator]
            out -= 1
        if out < 1:
            raise ConfigurationError(
                f"got kernel={kernel} with n={n}, padding={padding}, stride={s}: "
                f"no pooling window fits (output size {out})")
        return out
    up = sympy.ceiling((n_ + 2 * p - d * (k - 1) - 1) / s) + 1
    return sympy.Piecewise((up - 1, (up - 1) * s >= n_ + p), (up, True))


# --------------------------------------------------------------------------- transposed

def transposed_output_size(n: Size, kernel: Size, padding: Size = 0, stride: Size = 1,
                           dilation: Size = 1, output_padding: Size = 0) -> Size:
    """Output size of a transposed convolution (PyTorch's rule).

    ``(n - 1)*stride - 2*padding + dilation*(kernel - 1) + output_padding + 1``.  The
    ``output_padding`` picks one of the ``stride`` input sizes that a strided convolution
    maps to ``n``; it must be smaller than ``stride`` or than ``dilation``.

    >>> transposed_output_size(3, 3, padding=1, stride=2, output_padding=1)
    6
    >>> transposed_output_size(3, 3, stride=2, output_padding=2)
    Traceback (most recent call last):
    ...
    derive.errors.ConfigurationError: got output_padding=2; output_padding must be smaller than stride=2 or dilation=1
    """
    n_ = _arg("n", n, 1)
    k = _arg("kernel", kernel, 1)
    p = _arg("padding", padding, 0)
    s = _arg("stride", stride, 1)
    d = _arg("dilation", dilation, 1)
    a = _arg("output_padding", output_padding, 0)
    if _all_numbers(a, s, d) and not (a < s or a < d):  # type: ignore[operator]
        raise ConfigurationError(
            f"got output_padding={a}; output_padding must be smaller than stride={s} "
            f"or dilation={d}")
    size = (n_ - 1) * s - 2 * p + d * (k - 1) + a + 1
    if _all_numbers(n_, k, p, s, d, a):
        if size < 1:  # type: ignore[operator]
            raise ConfigurationError(
                f"got padding={p}; with n={n_}, kernel={k}, stride={s}, dilation={d} the "
                f"transposed output size would be {size}; it must be >= 1")
        return int(size)
    return size


# --------------------------------------------------------------------------- paddings

def full_padding(kernel: Size, dilation: Size = 1) -> Size:
    """Padding ``d(k-1)`` at which every partial overlap counts (Dumoulin & Visin's *full*).

    >>> full_padding(3), output_size(5, 3, padding=full_padding(3))
    (2, 7)
    """
    k = _arg("kernel", kernel, 1)
    d = _arg("dilation", dilation, 1)
    return d * (k - 1)


def half_padding(kernel: Size, dilation: Size = 1) -> Size:
    """Symmetric padding ``floor(d(k-1)/2)``; keeps the size at stride 1 for odd windows.

    >>> half_padding(3), output_size(5, 3, padding=half_padding(3))
    (1, 5)
    """
    k = _arg("kernel", kernel, 1)
    d = _arg("dilation", dilation, 1)
    if _all_numbers(k, d):
        return d * (k - 1) // 2  # type: ignore[operator]
    return sympy.floor(d * (k - 1) / 2)


def same_padding(n: Size, kernel: Size, stride: Size = 1,
                 dilation: Size = 1) -> tuple[Size, Size]:
    """``(left, right)`` padding of TensorFlow's ``SAME`` rule: output ``ceil(n/stride)``.

    The total ``max((ceil(n/s) - 1)s + d(k-1) + 1 - n, 0)`` is split with the extra unit on
    the right (also PyTorch's ``padding="same"`` at stride 1).

    >>> same_padding(224, 3), same_padding(224, 2, stride=2), same_padding(5, 4)
    ((1, 1), (0, 0), (1, 2))
    """
    n_ = _arg("n", n, 1)
    k = _arg("kernel", kernel, 1)
    s = _arg("stride", stride, 1)
    d = _arg("dilation", dilation, 1)
    if _all_numbers(n_, k, s, d):
        out = -(-n_ // s)  # type: ignore[operator]
        total = max((out - 1) * s + d * (k - 1) + 1 - n_, 0)  # type: ignore[operator]
        return total // 2, total - total // 2
    out = sympy.ceiling(n_ / s)
    total = sympy.Max((out - 1) * s + d * (k - 1) + 1 - n_, 0)
    left = sympy.floor(total / 2)
    return left, total - left


# --------------------------------------------------------------------------- derivations

def output_size_derivation(n: Size, kernel: Size, padding: Size = 0, stride: Size = 1,
                           dilation: Size = 1) -> list[tuple[Any, str]]:
    """The output size derived from the indexed-sum model, as ``[(expr, why), ...]``.

    Every expression equals the previous one, so ``Sheet.derive`` (or
    :func:`derive.check.derivation.check_chain`) can check each step: a sum of ones over the
    valid output indices read off the model, its value, then the closed form of
    :func:`output_size` when it is written differently.

    >>> [expr for expr, _ in output_size_derivation(5, 3, padding=1, stride=2)]
    [Sum(1, (i, 0, 2)), 3]
    >>> from derive.symbols import syms
    >>> [str(e) for e, _ in output_size_derivation(*syms("H K P S D"))]
    ['Sum(1, (i, 0, floor((-D*K + D + H + 2*P - 1)/S)))', 'floor((-D*K + D + H + 2*P - 1)/S) + 1', 'floor((-D*(K - 1) + H + 2*P - 1)/S) + 1']
    """
    closed = output_size(n, kernel, padding, stride, dilation)  # validates the arguments
    derived = _model_derivation(n, kernel, padding, stride, dilation)
    steps = [tuple(step) for step in derived.chain]
    if as_expr(closed) != as_expr(steps[-1][0]):
        steps.append((closed, "rearranged into the closed form "
                              "$floor((n + 2*p - d*(k - 1) - 1)/s) + 1$"))
    return steps  # type: ignore[return-value]


def output_size_assumptions(n: Size, kernel: Size, padding: Size = 0,
                            dilation: Size = 1) -> list[str]:
    """The condition under which :func:`output_size_derivation` counts windows: the
    dilated kernel fits in the padded input (else there is no window and the count of the
    model's output positions is 0, while the closed form goes negative).  Empty when the
    sizes are numbers (then the derivation evaluates them).

    >>> from derive.symbols import syms
    >>> output_size_assumptions(*syms("H K P"), 1), output_size_assumptions(5, 3)
    (['H + 2*P >= K'], [])
    """
    room = as_expr(n) + 2 * as_expr(padding)
    window = as_expr(dilation) * (as_expr(kernel) - 1) + 1
    if (room - window).is_number:
        return []
    return [f"{sympy.sstr(room)} >= {sympy.sstr(window)}"]


def output_size_argument(n: Size, kernel: Size, padding: Size = 0, stride: Size = 1,
                         dilation: Size = 1) -> list[tuple[Any, str]]:
    """The reasoning behind :func:`output_size_derivation` as ``[(relation, why), ...]``:
    the model along one axis, the window condition, the bound on the index, the largest
    index and the count.  For display (the relations are not an equality chain).

    >>> [str(e) for e, _ in output_size_argument(5, 3, padding=1, stride=2)][2:]
    ['i <= 2', 'Eq(i_max, 2)', '3']
    """
    output_size(n, kernel, padding, stride, dilation)
    return [tuple(step) for step in _model_derivation(  # type: ignore[misc]
        n, kernel, padding, stride, dilation).steps]


def _model_derivation(n: Size, kernel: Size, padding: Size, stride: Size,
                      dilation: Size) -> Any:
    from derive.conv.model import conv_model

    model = conv_model(1, size=n, kernel=kernel, stride=stride, padding=padding,
                       dilation=dilation, batch=1, in_channels=1, out_channels=1, bias=False)
    return model.derive_output_size(0)
