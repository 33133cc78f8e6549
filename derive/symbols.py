"""Standard symbols and their domains.

Sizes, kernels, strides, dilations and channel counts are counts: positive integers.
Padding may be zero: a non-negative integer.  The checker re-creates every symbol of a
claim by name with the assumptions of its declared domain, so a symbol made here and the
same letter typed by a user are the same symbol once checked.
"""

from __future__ import annotations

from functools import lru_cache

import sympy

# Names that are non-negative rather than positive by default (padding); anything else
# that may be zero (an index, an output padding ``a``) is declared in the assumptions.
NONNEGATIVE_NAMES = frozenset({"P", "p", "padding", "output_padding"})


@lru_cache(maxsize=None)
def sym(name: str, *, nonnegative: bool | None = None, real: bool = False) -> sympy.Symbol:
    """The engine's symbol for ``name``.

    >>> sym("H").is_positive, sym("P").is_nonnegative, sym("P").is_positive
    (True, True, None)
    """
    if real:
        return sympy.Symbol(name, real=True)
    if nonnegative is None:
        nonnegative = name in NONNEGATIVE_NAMES
    if nonnegative:
        return sympy.Symbol(name, integer=True, nonnegative=True)
    return sympy.Symbol(name, integer=True, positive=True)


def syms(names: str) -> tuple[sympy.Symbol, ...]:
    """Several symbols from a space-separated string.

    >>> syms("H K S")
    (H, K, S)
    """
    return tuple(sym(n) for n in names.split())


H, W, K, S, D, P, C, L = syms("H W K S D P C L")


def as_expr(value: object) -> sympy.Expr:
    """A SymPy number or expression for an engine value, never from text.

    Text is refused: user text goes through :mod:`derive.check.parse` only.

    >>> as_expr(3), as_expr(sym("H") + 1)
    (3, H + 1)
    """
    from fractions import Fraction
    import numbers

    if isinstance(value, sympy.Basic):
        return value  # type: ignore[return-value]
    if isinstance(value, str) or isinstance(value, bool):
        raise TypeError(f"expected a number or a SymPy expression, got {value!r}")
    if isinstance(value, numbers.Integral):
        return sympy.Integer(int(value))
    if isinstance(value, Fraction):
        return sympy.Rational(value.numerator, value.denominator)
    if isinstance(value, numbers.Rational):
        return sympy.Rational(int(value.numerator), int(value.denominator))
    if isinstance(value, numbers.Real):
        return sympy.Float(float(value))
    if isinstance(value, (list, tuple)):
        return sympy.ImmutableMatrix(value)  # type: ignore[return-value]
    raise TypeError(f"expected a number or a SymPy expression, got {value!r}")
