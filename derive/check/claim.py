"""Claims: ``lhs == rhs`` under assumptions on their symbols."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import sympy

from derive.check.domain import Domain, build_domain
from derive.errors import InputError


@dataclass(frozen=True)
class Claim:
    """An equation to check, with its symbols re-created on their declared domains.

    >>> c = Claim.parse("ceiling(a/b) == floor((a + b - 1)/b)")
    >>> c.lhs.free_symbols == {sympy.Symbol("a", integer=True, positive=True),
    ...                        sympy.Symbol("b", integer=True, positive=True)}
    True
    """
    lhs: Any
    rhs: Any
    domain: Domain
    text: str = ""

    @classmethod
    def parse(cls, text: str, assume: Sequence[Any] = ()) -> "Claim":
        from derive.check.parse import parse_claim
        lhs, rhs = parse_claim(text)
        return cls.from_exprs(lhs, rhs, assume, text=text)

    @classmethod
    def from_exprs(cls, lhs: Any, rhs: Any, assume: Sequence[Any] = (), *,
                   text: str = "") -> "Claim":
        lhs, rhs = _sympify_value(lhs, "lhs"), _sympify_value(rhs, "rhs")
        names = sorted({s.name for s in _free(lhs) | _free(rhs)})
        domain = build_domain(names, assume)
        canon = {}
        for s in _free(lhs) | _free(rhs):
            if s.is_commutative is False:
                continue  # operators (Jacobians, matrices) keep their non-commutativity
            canon[s] = domain.of(s.name).sympy_symbol()
        lhs, rhs = _xreplace(lhs, canon), _xreplace(rhs, canon)
        if not text:
            text = f"{sympy.sstr(lhs)} == {sympy.sstr(rhs)}"
        return cls(lhs, rhs, domain, text)

    @property
    def operators(self) -> list[Any]:
        """Non-commutative symbols (matrices, Jacobians), sorted by name."""
        return sorted((s for s in _free(self.lhs) | _free(self.rhs) if s.is_commutative is False),
                      key=lambda s: s.name)

    @property
    def names(self) -> list[str]:
        """Symbols to sample: the claim's, and any that only its assumptions mention."""
        ops = {s.name for s in self.operators}
        return sorted(({s.name for s in _free(self.lhs) | _free(self.rhs)} | set(self.domain.symbols))
                      - ops)


def _free(e: Any) -> set:
    """Free symbols that stand for numbers (not the names of indexed arrays)."""
    if not isinstance(e, sympy.Basic):
        return set()
    labels = {b.label for b in e.atoms(sympy.IndexedBase)}
    return {s for s in e.free_symbols if isinstance(s, sympy.Symbol) and s not in labels}


def _xreplace(e: Any, mapping: dict) -> Any:
    return e.xreplace(mapping) if isinstance(e, sympy.Basic) else e


def _sympify_value(v: Any, name: str) -> Any:
    """Accept SymPy objects and plain numbers (never text: text goes through the parser)."""
    from fractions import Fraction
    if isinstance(v, sympy.MatrixBase):
        return sympy.ImmutableMatrix(v)
    if isinstance(v, sympy.Basic):
        return v
    if isinstance(v, bool):
        raise InputError(f"got {name}={v!r}; expected a number or a SymPy expression")
    if isinstance(v, int):
        return sympy.Integer(v)
    if isinstance(v, Fraction):
        return sympy.Rational(v.numerator, v.denominator)
    if isinstance(v, float):
        return sympy.Rational(repr(v))
    try:
        import numpy as np
        if isinstance(v, np.integer):
            return sympy.Integer(int(v))
        if isinstance(v, np.ndarray):
            return sympy.Matrix(v.tolist()) if v.ndim == 2 else sympy.Matrix(v.tolist())
    except ImportError:  # pragma: no cover
        pass
    if isinstance(v, (list, tuple)):
        return sympy.Matrix(v)
    raise InputError(f"got {name}={v!r}; expected a number or a SymPy expression")
