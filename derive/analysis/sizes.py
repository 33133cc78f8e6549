"""Spatial sizes as closed forms in one input side: ``Q*floor((x + A)/M) + B``.

Design rule: a chain of convolutions and poolings maps an input side ``x`` to a nested floor;
the identity ``floor((floor(y/m) + n)/s) = floor((y + m*n)/(m*s))`` (integers ``y, n``;
positive ``m, s``) collapses the nest to one floor, so every such size is kept as four
integers over its input symbol.  That keeps ResNet-50's 170 layers cheap, makes "the
smallest side with a positive output" and "the sides at which every stride divides" exact
(the size is periodic-plus-linear in ``x`` with period ``M``), and the collapsed form is
checked against the engine's nested form (:mod:`derive.analysis.crosscheck`).  What does not
fit the form (a ceil-mode window that may start in the padding, a stride that does not
divide an upsampling factor) stays a general SymPy expression, built by the engine's
:mod:`derive.conv.shapes` functions.

>>> from derive.symbols import sym
>>> H = sym("H")
>>> n = FloorForm.of(H)
>>> n = conv_axis(n, kernel=7, padding=3, stride=2)   # ResNet's stem
>>> n = conv_axis(n, kernel=3, padding=1, stride=2)   # its max pool
>>> n.text(), n.expr()
('floor((H + 3)/4)', floor(H/4 + 3/4))
>>> n.at(224), n.smallest_positive()
(56, 1)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Union

import sympy

from derive.conv import shapes

__all__ = ["Dim", "FloorForm", "as_expr", "conv_axis", "evaluate", "is_symbolic",
           "pool_axis", "scale_axis", "transposed_axis"]


@dataclass(frozen=True)
class FloorForm:
    """``Q*floor((var + A)/M) + B`` with integers ``Q >= 1``, ``M >= 1``.

    >>> from derive.symbols import sym
    >>> FloorForm(sym("W"), 2, 1, 4, -1).text()
    '2*floor((W + 1)/4) - 1'
    """

    var: sympy.Symbol
    Q: int
    A: int
    M: int
    B: int

    def __post_init__(self) -> None:
        if self.Q == 1 and self.B != 0:   # one canonical form: Q = 1 absorbs B into A
            object.__setattr__(self, "A", self.A + self.M * self.B)
            object.__setattr__(self, "B", 0)

    @classmethod
    def of(cls, var: sympy.Symbol) -> "FloorForm":
        """The input side itself."""
        return cls(var, 1, 0, 1, 0)

    def expr(self) -> sympy.Expr:
        """The closed form as a SymPy expression."""
        inner = (self.var + self.A) if self.M == 1 else sympy.floor((self.var + self.A) / self.M)
        return sympy.expand(self.Q * inner + self.B) if self.M == 1 else self.Q * inner + self.B

    def text(self) -> str:
        """The closed form as plain text, written as derived: ``floor((H + 3)/4)``."""
        x = str(self.var)
        inner = x if self.A == 0 else f"{x} {'+' if self.A > 0 else '-'} {abs(self.A)}"
        if self.M != 1:
            inner = f"floor(({inner})/{self.M})" if self.A else f"floor({x}/{self.M})"
        elif self.Q != 1 and self.A:
            inner = f"({inner})"
        out = inner if self.Q == 1 else f"{self.Q}*{inner}"
        if self.B:
            out += f" {'+' if self.B > 0 else '-'} {abs(self.B)}"
        return out

    def at(self, value: int) -> int:
        """The size at ``var = value``."""
        return self.Q * ((value + self.A) // self.M) + self.B

    def smallest_positive(self) -> int:
        """The smallest ``var >= 1`` with a size ``>= 1`` (sizes grow with ``var``).

        ``Q*floor((x + A)/M) + B >= 1`` iff ``floor((x + A)/M) >= ceil((1 - B)/Q)`` iff
        ``x >= M*ceil((1 - B)/Q) - A``.

        >>> from derive.symbols import sym
        >>> FloorForm(sym("H"), 1, -6, 1, 0).smallest_positive()   # H - 6 >= 1
        7
        """
        need = -((self.B - 1) // self.Q)   # ceil((1 - B)/Q)
        return max(1, self.M * need - self.A)


Dim = Union[int, FloorForm, sympy.Expr]
"""A size: a plain integer, a :class:`FloorForm`, or a general SymPy expression."""


def is_symbolic(d: Any) -> bool:
    """True for a size that depends on an input symbol."""
    if isinstance(d, FloorForm):
        return True
    return isinstance(d, sympy.Basic) and not d.is_Integer


def as_expr(d: Any) -> Any:
    """A SymPy expression (or ``int``) for any size.

    >>> as_expr(5), as_expr(sympy.Integer(3))
    (5, 3)
    """
    if isinstance(d, FloorForm):
        return d.expr()
    if isinstance(d, sympy.Basic) and d.is_Integer:
        return int(d)
    return d


def evaluate(d: Any, values: dict[sympy.Symbol, int]) -> int:
    """The integer value of a size at given input sides.

    >>> from derive.symbols import sym
    >>> evaluate(FloorForm(sym("H"), 1, 1, 2, 0), {sym("H"): 7})
    4
    """
    if isinstance(d, FloorForm):
        return d.at(values[d.var])
    if isinstance(d, sympy.Basic):
        return int(d.xreplace({k: sympy.Integer(v) for k, v in values.items()}))
    return int(d)


def _collapse(n: FloorForm, c: int, s: int) -> FloorForm | None:
    """``floor((n + c)/s) + 1`` for ``n`` in floor form, or None when it leaves the form."""
    if n.Q == 1:
        # floor((floor((x+A)/M) + B + c)/s) = floor((x + A + M(B + c))/(M s))
        return FloorForm(n.var, 1, n.A + n.M * (n.B + c), n.M * s, 1)
    if n.Q % s == 0:
        # Q f + B + c with s | Q: (Q/s) f + floor((B + c)/s)
        return FloorForm(n.var, n.Q // s, n.A, n.M, (n.B + c) // s + 1)
    return None


def conv_axis(n: Dim, kernel: int, padding: int = 0, stride: int = 1, dilation: int = 1,
              right_padding: int | None = None) -> Dim:
    """Output side of a convolution: ``floor((n + pl + pr - d(k-1) - 1)/s) + 1``.

    ``right_padding`` defaults to ``padding`` (symmetric).

    >>> conv_axis(224, 7, 3, 2), conv_axis(5, 3, 0, 1, right_padding=1)
    (112, 4)
    """
    pr = padding if right_padding is None else right_padding
    c = padding + pr - dilation * (kernel - 1) - 1
    if isinstance(n, FloorForm):
        out = _collapse(n, c, stride)
        if out is not None:
            return out
        n = n.expr()
    if pr == padding:
        return shapes.output_size(n, kernel, padding, stride, dilation)
    # asymmetric padding (PyTorch's "same" with an even window): only the total counts
    if not is_symbolic(n):
        return (int(n) + c) // stride + 1
    return sympy.floor((n + c) / stride) + 1


def pool_axis(n: Dim, kernel: int, padding: int = 0, stride: int | None = None,
              dilation: int = 1, ceil_mode: bool = False) -> Dim:
    """Output side of max/average pooling (PyTorch's rule, incl. ``ceil_mode``).

    With ``ceil_mode`` the last window is dropped when it would start in the right padding;
    that can only happen when ``s >= d(k-1) + 1 - p + 1``, so otherwise the size is
    ``ceil((n + 2p - d(k-1) - 1)/s) + 1``, which stays in floor form.

    >>> pool_axis(5, 2, ceil_mode=True), pool_axis(6, 3, 1, 2, ceil_mode=True)
    (3, 4)
    """
    s = kernel if stride is None else stride
    eff = dilation * (kernel - 1) + 1
    if isinstance(n, FloorForm):
        c = 2 * padding - eff
        if not ceil_mode:
            out = _collapse(n, c, s)
        elif s <= eff - padding:
            out = _collapse(n, c + s - 1, s)   # ceil(y/s) = floor((y + s - 1)/s)
        else:
            out = None
        if out is not None:
            return out
        n = n.expr()
    return shapes.pool_output_size(n, kernel, padding, s, dilation, ceil_mode)


def transposed_axis(n: Dim, kernel: int, padding: int = 0, stride: int = 1,
                    dilation: int = 1, output_padding: int = 0) -> Dim:
    """Output side of a transposed convolution: ``(n-1)s - 2p + d(k-1) + a + 1``.

    >>> transposed_axis(3, 3, 1, 2, output_padding=1)
    6
    """
    if isinstance(n, FloorForm):
        extra = -stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
        return FloorForm(n.var, n.Q * stride, n.A, n.M, n.B * stride + extra)
    return shapes.transposed_output_size(n, kernel, padding, stride, dilation, output_padding)


def scale_axis(n: Dim, factor: sympy.Rational | int) -> Dim:
    """``floor(n * factor)``: nearest/linear upsampling by a scale factor, pixel shuffle.

    >>> scale_axis(7, 2), scale_axis(7, sympy.Rational(1, 2))
    (14, 3)
    """
    factor = sympy.Rational(factor)
    if isinstance(n, FloorForm):
        if factor.q == 1:
            return FloorForm(n.var, n.Q * int(factor), n.A, n.M, n.B * int(factor))
        if n.Q == 1 and factor.p == 1:
            # floor((floor((x+A)/M) + B)/q) = floor((x + A + M B)/(M q))
            return FloorForm(n.var, 1, n.A + n.M * n.B, n.M * int(factor.q), 0)
        n = n.expr()
    if not is_symbolic(n):
        return math.floor(sympy.Integer(int(n)) * factor)
    return sympy.floor(n * factor)
