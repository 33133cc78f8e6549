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
