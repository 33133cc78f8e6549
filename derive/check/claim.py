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
    # what each side divides by, as (divisor, 0 for the left side or 1 for the right):
    # a claim is defined only where none of them is 0
    divisors: tuple[tuple[Any, int], ...] = ()
    # the two sides as given, on plain symbols and not re-evaluated: what the search and
    # the re-check of a counterexample evaluate (SymPy rewrites the sides it rebuilds on
    # the domain's symbols, and has been wrong doing so)
    original: tuple[Any, Any] | None = None

    @property
    def nonzero(self) -> list[Any]:
        """Every divisor, whichever side it is on."""
        return [d for d, _ in self.divisors]

    @classmethod
    def parse(cls, text: str, assume: Sequence[Any] = ()) -> "Claim":
        from derive.check.parse import parse_claim
        sides: list[list[Any]] = []
        symbols: dict[str, Any] = {}
        lhs, rhs = parse_claim(text, symbols, divisors=sides)
        return cls.from_exprs(lhs, rhs, assume, text=text, divisors=(sides[0], sides[1]),
                              mentioned=sorted(symbols))

    @classmethod
    def from_exprs(cls, lhs: Any, rhs: Any, assume: Sequence[Any] = (), *,
                   text: str = "", divisors: tuple[Sequence[Any], Sequence[Any]] = ((), ()),
                   mentioned: Sequence[str] = ()) -> "Claim":
        """A claim from SymPy expressions.  A symbol's own SymPy assumptions (``real``,
        ``positive``...) are assumptions of the claim as well; ``divisors`` adds what each
        side divides by where SymPy may have cancelled it already (the parser's record of
        ``x/x``); ``mentioned`` names symbols the text used even if SymPy cancelled them
        (they stay in the domain, and in every counterexample)."""
        from derive.check.defined import divisors as divisors_of
        lhs, rhs = _sympify_value(lhs, "lhs"), _sympify_value(rhs, "rhs")
        given = [(d, side) for side, ds in enumerate(divisors) for d in ds]
        dummies = {d: sympy.Symbol(fresh_name(d), **d.assumptions0)
                   for e in (lhs, rhs, *(d for d, _ in given)) for d in _free(e)
                   if isinstance(d, sympy.Dummy)}
        if dummies:   # internal symbols keep names no user can type
            lhs, rhs = _xreplace(lhs, dummies), _xreplace(rhs, dummies)
            given = [(_xreplace(d, dummies), side) for d, side in given]
        free = _free(lhs) | _free(rhs)
        for d, _ in given:
            free |= _free(d)
        names = sorted({s.name for s in free} | set(mentioned))
        domain = build_domain(names, list(_declared(free)) + list(assume))
        canon = {}
        for s in free:
            if s.is_commutative is False:
                continue  # operators (Jacobians, matrices) keep their non-commutativity
            canon[s] = domain.of(s.name).sympy_symbol()
        plain = {s: sympy.Symbol(s.name) for s in free if s.is_commutative is not False}
        original = None
        if not isinstance(lhs, sympy.MatrixBase) and not isinstance(rhs, sympy.MatrixBase):
            with sympy.evaluate(False):
                original = (_xreplace(lhs, plain), _xreplace(rhs, plain))
        lhs, rhs = _canonical(lhs, canon), _canonical(rhs, canon)
        # A divisor that SymPy turns into the number 0 on the domain's symbols (floor(x/(x+1))
        # for positive integers x) divides by zero at every point: it is kept as written.
        given = [(_xreplace(d, plain) if isinstance(c, sympy.Basic) and c.is_zero else c, side)
                 for (d, side), c in ((g, _canonical(g[0], canon)) for g in given)]
        if not isinstance(lhs, sympy.MatrixBase) and not isinstance(rhs, sympy.MatrixBase):
            given += [(d, 0) for d in divisors_of(lhs)] + [(d, 1) for d in divisors_of(rhs)]
        kept = tuple(dict.fromkeys(
            (d, side) for d, side in given if isinstance(d, sympy.Basic)
            and (d.free_symbols or d.has(sympy.Product)) and d.is_commutative is not False))
        if not text:
            text = f"{sympy.sstr(lhs)} == {sympy.sstr(rhs)}"
        return cls(lhs, rhs, domain, text, kept, original)

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


def fresh_name(s: Any) -> str:
    """The name a symbol is evaluated under: its own, or for an internal ``Dummy`` one
    that starts with ``_``, which the claim language refuses (so no user symbol has it).

    >>> fresh_name(sympy.Symbol("h")), fresh_name(sympy.Dummy("h")).startswith("_h")
    ('h', True)
    """
    return f"_{s.name}{s.dummy_index}" if isinstance(s, sympy.Dummy) else s.name


def _declared(symbols: set) -> list[str]:
    """A symbol's own SymPy assumptions as the claim's assumptions (a symbol made with
    ``real=True`` ranges over the reals, not over the default positive integers)."""
    out = []
    for s in sorted(symbols, key=lambda q: q.name):
        if s.is_commutative is False or not s.name.isidentifier() or s.name.startswith("_") or set(
                s.assumptions0) <= {"commutative"}:
            continue
        for group in _DECLARED:      # the first fact of each group that holds
            words = [word for fact, word in group if getattr(s, fact)]
            if words:
                out.append(f"{s.name} {words[0]}")
    return out


# SymPy facts and the assumption each states, in groups of which at most one is said
_DECLARED = (
    (("is_integer", "integer"), ("is_real", "real"), ("is_rational", "real")),
    (("is_odd", "odd"), ("is_even", "even")),
    (("is_positive", "positive"), ("is_nonnegative", "nonnegative"),
     ("is_negative", "negative"), ("is_nonpositive", "<= 0")),
)


def _free(e: Any) -> set:
    """Free symbols that stand for numbers (not the names of indexed arrays)."""
    if not isinstance(e, sympy.Basic):
        return set()
    labels = {b.label for b in e.atoms(sympy.IndexedBase)}
    return {s for s in e.free_symbols if isinstance(s, sympy.Symbol) and s not in labels}


def _xreplace(e: Any, mapping: dict) -> Any:
    return e.xreplace(mapping) if isinstance(e, sympy.Basic) else e


def _canonical(e: Any, mapping: dict) -> Any:
    """``e`` on the domain's symbols.  SymPy re-evaluates as it rebuilds, with the new
    assumptions, and is sometimes wrong there (``binomial(-1, x)`` becomes ``zoo`` for a
    non-negative integer ``x``, though it is ``(-1)**x``): a rebuild that makes a value
    infinite, or fails, is redone without evaluation."""
    if not isinstance(e, sympy.Basic) or not mapping:
        return e
    bad = (sympy.zoo, sympy.nan, sympy.oo, -sympy.oo)
    try:
        out = e.xreplace(mapping)
        if not (isinstance(out, sympy.Basic) and out.has(*bad) and not e.has(*bad)):
            return out
    except (ArithmeticError, ValueError, TypeError, RecursionError):
        pass
    try:
        with sympy.evaluate(False):
            return e.xreplace(mapping)
    except (ArithmeticError, ValueError, TypeError, RecursionError) as exc:
        from derive.errors import UnsupportedError
        raise UnsupportedError(f"SymPy cannot rebuild the claim on its domain "
                               f"({type(exc).__name__}: {str(exc)[:120]})") from None


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
