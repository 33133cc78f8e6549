"""Domains of a claim's symbols, from its assumptions.

Every symbol is a positive integer unless the assumptions say otherwise; padding-like names
(``P``, ``p``) default to non-negative.  Assumptions are text such as ``p >= 0``,
``s >= 2``, ``a <= s - 1`` (relating several symbols), ``1 <= k <= 5``, ``x real``,
``k odd``.  Simple bounds become each symbol's range; anything else is kept as a constraint
that sampled instances must satisfy.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, Iterable, Sequence

import sympy

from derive.errors import ParseError
from derive.symbols import NONNEGATIVE_NAMES

_KIND_WORDS = {"real", "integer", "positive", "nonnegative", "negative", "odd", "even",
               "rational"}


@dataclass(frozen=True)
class SymbolDomain:
    """The values one symbol may take."""
    name: str
    integer: bool = True
    lower: Fraction | None = Fraction(1)
    upper: Fraction | None = None
    strict_lower: bool = False
    strict_upper: bool = False
    parity: int | None = None          # 0 even, 1 odd

    def contains(self, v: Fraction) -> bool:
        if self.integer and v.denominator != 1:
            return False
        if self.lower is not None and (v < self.lower or (self.strict_lower and v == self.lower)):
            return False
        if self.upper is not None and (v > self.upper or (self.strict_upper and v == self.upper)):
            return False
        if self.parity is not None and int(v) % 2 != self.parity:
            return False
        return True

    @property
    def finite_values(self) -> list[int] | None:
        """All values, when the domain is a finite integer range (else None)."""
        if not self.integer or self.lower is None or self.upper is None:
            return None
        lo, hi = int(sympy.ceiling(self.lower)), int(sympy.floor(self.upper))
        if hi - lo > 100_000:
            return None
        return [v for v in range(lo, hi + 1) if self.contains(Fraction(v))]

    def describe(self) -> str:
        kind = "integer" if self.integer else "real"
        parts = []
        if self.lower is not None:
            parts.append(f"{self.name} {'>' if self.strict_lower else '>='} {self.lower}")
        if self.upper is not None:
            parts.append(f"{self.name} {'<' if self.strict_upper else '<='} {self.upper}")
        if self.parity is not None:
            parts.append(f"{self.name} {'odd' if self.parity else 'even'}")
        return f"{self.name} {kind}" + (f" ({', '.join(parts)})" if parts else "")

    def sympy_symbol(self) -> sympy.Symbol:
        """A symbol carrying as much of the domain as SymPy's assumptions can hold."""
        kw: dict[str, bool] = {}
        if self.integer:
            kw["integer"] = True
        else:
            kw["real"] = True
        if self.lower is not None:
            if self.lower > 0 or (self.lower == 0 and self.strict_lower):
                kw["positive"] = True
            elif self.lower >= 0:
                kw["nonnegative"] = True
        if self.parity is not None and self.integer:
            kw["odd" if self.parity else "even"] = True
        return sympy.Symbol(self.name, **kw)


def default_domain(name: str) -> SymbolDomain:
    return SymbolDomain(name, lower=Fraction(0) if name in NONNEGATIVE_NAMES else Fraction(1))


@dataclass(frozen=True)
class Domain:
    """Domains of every free symbol plus constraints relating several symbols."""
    symbols: dict[str, SymbolDomain] = field(default_factory=dict)
    constraints: tuple[Any, ...] = ()       # SymPy relationals over the canonical symbols
    texts: tuple[str, ...] = ()             # the assumptions as the user gave them

    def of(self, name: str) -> SymbolDomain:
        return self.symbols.get(name) or default_domain(name)

    def describe(self) -> str:
        return "; ".join(self.of(n).describe() for n in sorted(self.symbols))

    def nonnegative_facts(self) -> list[Any]:
        """The relational constraints as expressions known to be >= 0 (canonical symbols),
        for lemmas whose side conditions need them."""
        canon = {sympy.Symbol(n): self.of(n).sympy_symbol() for n in self.symbols}
        facts = []
        for c in self.constraints:
            if isinstance(c, (sympy.GreaterThan, sympy.StrictGreaterThan)):
                facts.append((c.lhs - c.rhs).xreplace(canon))
            elif isinstance(c, (sympy.LessThan, sympy.StrictLessThan)):
                facts.append((c.rhs - c.lhs).xreplace(canon))
        return facts


def _as_fraction(value: Any) -> Fraction | None:
    if value.is_Integer or value.is_Rational:
        return Fraction(int(value.p), int(value.q))
    return None


def build_domain(names: Iterable[str], assume: Sequence[Any] = ()) -> Domain:
    """The domain for ``names`` under ``assume`` (texts or SymPy relationals).

    >>> d = build_domain(["s", "a"], ["s >= 2", "a <= s - 1", "a >= 0"])
    >>> d.of("s").lower, d.of("a").lower, len(d.constraints)
    (Fraction(2, 1), Fraction(0, 1), 1)
    """
    from derive.check.parse import parse_relation

    symbols = {n: default_domain(n) for n in names}
    explicit_lower: set[str] = set()
    constraints: list[Any] = []
    texts: list[str] = []
    for item in assume:
        if isinstance(item, sympy.Basic):
            relations = [item]
            texts.append(str(item))
        else:
            if not isinstance(item, str):
                raise ParseError(f"an assumption must be text, got {item!r}")
            texts.append(item)
            words = item.replace(",", " ").split()
            if len(words) >= 2 and words[-1] in _KIND_WORDS and all(
                    w.isidentifier() for w in words[:-1]):
                for n in words[:-1]:
                    symbols[n] = _apply_kind(symbols.get(n) or default_domain(n), words[-1])
                    if words[-1] in ("real", "integer", "rational"):
                        explicit_lower.add(n)
                continue
            try:
                operands, ops = parse_relation(item)
            except ParseError as exc:
                raise ParseError(f"cannot read assumption {item!r}: {exc}") from None
            if not ops:
                raise ParseError(f"assumption {item!r} is not a comparison or a kind such as "
                                 f"'x real'")
            relations = [_relation(a, op, b) for a, op, b in zip(operands, ops, operands[1:])]
        for rel in relations:
            if not _as_bound(rel, symbols, explicit_lower):
                constraints.append(rel)
    # Symbols named only in the assumptions are part of the domain too (they are sampled).
    for c in constraints:
        for s in c.free_symbols:
            symbols.setdefault(s.name, default_domain(s.name))
    # constraints are re-expressed in plain-named symbols; evaluation is by name
    constraints = [c.xreplace({s: sympy.Symbol(s.name) for s in c.free_symbols}) for c in constraints]
    return Domain(symbols, tuple(constraints), tuple(texts))


def _relation(a: Any, op: str, b: Any) -> Any:
    return {"==": sympy.Eq, "!=": sympy.Ne, "<": sympy.Lt, "<=": sympy.Le, ">": sympy.Gt,
            ">=": sympy.Ge}[op](a, b, evaluate=False)


def _apply_kind(d: SymbolDomain, word: str) -> SymbolDomain:
    if word == "real" or word == "rational":
        return replace(d, integer=False, lower=None, upper=None, strict_lower=False)
    if word == "integer":
        return replace(d, integer=True, lower=None, strict_lower=False)
    if word == "positive":
        return replace(d, lower=Fraction(0) if not d.integer else Fraction(1),
                       strict_lower=not d.integer)
    if word == "nonnegative":
        return replace(d, lower=Fraction(0), strict_lower=False)
    if word == "negative":
        return replace(d, lower=None, upper=Fraction(0) if not d.integer else Fraction(-1),
                       strict_upper=not d.integer)
    if word in ("odd", "even"):
        return replace(d, integer=True, parity=1 if word == "odd" else 0)
    raise ParseError(f"unknown kind {word!r}")  # pragma: no cover


def _as_bound(rel: Any, symbols: dict[str, SymbolDomain], explicit: set[str]) -> bool:
    """Fold ``x >= c`` / ``c <= x`` style relations into the symbol's range."""
    if not isinstance(rel, (sympy.GreaterThan, sympy.StrictGreaterThan, sympy.LessThan,
                            sympy.StrictLessThan)):
        return False
    lhs, rhs = rel.lhs, rel.rhs
    greater = isinstance(rel, (sympy.GreaterThan, sympy.StrictGreaterThan))
    strict = isinstance(rel, (sympy.StrictGreaterThan, sympy.StrictLessThan))
    if isinstance(lhs, sympy.Symbol) and rhs.is_number:
        name, value = lhs.name, _as_fraction(rhs)
        is_lower = greater
    elif isinstance(rhs, sympy.Symbol) and lhs.is_number:
        name, value = rhs.name, _as_fraction(lhs)
        is_lower = not greater
    else:
        return False
    if value is None:
        return False
    d = symbols.get(name) or default_domain(name)
    if d.integer and strict:   # integer x > c  is  x >= c + 1 (for integer c)
        if value.denominator == 1:
            value = value + 1 if is_lower else value - 1
            strict = False
    if is_lower:
        if name in explicit and d.lower is not None and value < d.lower:
            value = d.lower
        d = replace(d, lower=value, strict_lower=strict)
        explicit.add(name)
    else:
        d = replace(d, upper=value if d.upper is None else min(value, d.upper),
                    strict_upper=strict)
    symbols[name] = d
    return True
