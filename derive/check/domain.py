"""Domains of a claim's symbols, from its assumptions.

Every symbol is a positive integer unless the assumptions say otherwise; padding-like names
(``P``, ``p``) default to non-negative.  Assumptions are text such as ``p >= 0``,
``s >= 2``, ``a <= s - 1`` (relating several symbols), ``1 <= k <= 5``, ``x real``,
``k odd``.  Simple bounds become each symbol's range; anything else is kept as a constraint
that sampled instances must satisfy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Iterable, Sequence

import sympy

from derive.errors import InputError, ParseError
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
        # parity is left out on purpose: SymPy's inference from it is unreliable (it takes
        # c**2/6 for an integer when c is even, and so floor(c**2/6) for c**2/6)
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

    The domain is the intersection of every assumption, in whatever order they come.  The
    one exception is the default: a symbol is a positive integer (non-negative for
    padding) until an assumption gives it a lower bound of its own or a kind such as
    ``real``, ``integer`` or ``negative``, which replaces the default instead of meeting
    it (``p >= 0`` allows ``p = 0``).  Strict bounds on integers become the exact
    non-strict ones (``x < 2.5`` is ``x <= 2``).  Contradictory assumptions are bad
    input, named in the error.

    >>> d = build_domain(["s", "a"], ["s >= 2", "a <= s - 1", "a >= 0"])
    >>> d.of("s").lower, d.of("a").lower, len(d.constraints)
    (Fraction(2, 1), Fraction(0, 1), 1)
    >>> build_domain(["x"], ["x <= 2", "x < 2.5"]).of("x").describe()
    'x integer (x >= 1, x <= 2)'
    >>> build_domain(["k"], ["k odd", "k even"])
    Traceback (most recent call last):
    ...
    derive.errors.InputError: contradictory assumptions about k: 'k odd' and 'k even'
    """
    from derive.check.parse import parse_relation

    facts: dict[str, _Facts] = {n: _Facts(n) for n in names}
    constraints: list[Any] = []
    texts: list[str] = []
    for item in assume:
        if isinstance(item, sympy.Basic):
            relations, text = [item], str(item)
        else:
            if not isinstance(item, str):
                raise ParseError(f"an assumption must be text, got {item!r}")
            text = item
            words = item.replace(",", " ").split()
            if len(words) >= 2 and words[-1] in _KIND_WORDS and all(
                    w.isidentifier() for w in words[:-1]):
                texts.append(text)
                for n in words[:-1]:
                    facts.setdefault(n, _Facts(n)).kind(words[-1], text)
                continue
            try:
                operands, ops = parse_relation(item)
            except ParseError as exc:
                raise ParseError(f"cannot read assumption {item!r}: {exc}") from None
            if not ops:
                raise ParseError(f"assumption {item!r} is not a comparison or a kind such as "
                                 f"'x real'")
            relations = [_relation(a, op, b) for a, op, b in zip(operands, ops, operands[1:])]
        texts.append(text)
        for rel in relations:
            if rel is sympy.false:
                raise InputError(f"assumption {text!r} is false")
            if rel is sympy.true:
                continue
            if not _as_bound(rel, facts, text):
                constraints.append(rel)
    # Symbols named only in the assumptions are part of the domain too (they are sampled).
    for c in constraints:
        for s in c.free_symbols:
            facts.setdefault(s.name, _Facts(s.name))
    symbols = {n: f.domain() for n, f in facts.items()}
    # constraints are re-expressed in plain-named symbols; evaluation is by name
    constraints = [c.xreplace({s: sympy.Symbol(s.name) for s in c.free_symbols}) for c in constraints]
    return Domain(symbols, tuple(constraints), tuple(texts))


def _relation(a: Any, op: str, b: Any) -> Any:
    return {"==": sympy.Eq, "!=": sympy.Ne, "<": sympy.Lt, "<=": sympy.Le, ">": sympy.Gt,
            ">=": sympy.Ge}[op](a, b, evaluate=False)


# A bound as stated: (value, strict, the assumption's text).
_Bound = tuple[Fraction, bool, str]


class _Facts:
    """Everything the assumptions say about one symbol, met into a domain at the end (so
    the order of the assumptions cannot matter)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lowers: list[_Bound] = []
        self.uppers: list[_Bound] = []
        self.parities: list[tuple[int, str]] = []
        self.integer_words: list[str] = []     # integer, odd, even
        self.real_words: list[str] = []        # real, rational
        self.replaces_default = False          # a kind word or lower bound of its own

    def kind(self, word: str, text: str) -> None:
        if word in ("real", "rational"):
            self.real_words.append(text)
            self.replaces_default = True
        elif word == "integer":
            self.integer_words.append(text)
            self.replaces_default = True
        elif word == "positive":
            self.lowers.append((Fraction(0), True, text))
            self.replaces_default = True
        elif word == "nonnegative":
            self.lowers.append((Fraction(0), False, text))
            self.replaces_default = True
        elif word == "negative":
            self.uppers.append((Fraction(0), True, text))
            self.replaces_default = True
        elif word in ("odd", "even"):
            self.integer_words.append(text)
            self.parities.append((1 if word == "odd" else 0, text))
        else:  # pragma: no cover - _KIND_WORDS lists exactly these
            raise ParseError(f"unknown kind {word!r}")

    def bound(self, value: Fraction, strict: bool, is_lower: bool, text: str) -> None:
        if is_lower:
            self.lowers.append((value, strict, text))
            self.replaces_default = True
        else:
            self.uppers.append((value, strict, text))

    def domain(self) -> SymbolDomain:
        integer = bool(self.integer_words) or not self.real_words
        lowers = list(self.lowers)
        if not self.replaces_default:
            lowers.append((default_domain(self.name).lower, False, "the default domain"))
        if integer:   # integer bounds, exactly: x > 2.5 is x >= 3, x < 3 is x <= 2
            lowers = [(_int_lower(v, st), False, t) for v, st, t in lowers]
            uppers = [(_int_upper(v, st), False, t) for v, st, t in self.uppers]
        else:
            uppers = list(self.uppers)
        # the tightest bound; at equal values a strict bound is the tighter
        lo = max(lowers, key=lambda b: (b[0], b[1]), default=None)
        hi = min(uppers, key=lambda b: (b[0], not b[1]), default=None)
        parity = None
        for value, text in self.parities:
            if parity is not None and value != parity[0]:
                raise InputError(f"contradictory assumptions about {self.name}: "
                                 f"{parity[1]!r} and {text!r}")
            parity = (value, text)
        d = SymbolDomain(self.name, integer=integer,
                         lower=lo[0] if lo else None, upper=hi[0] if hi else None,
                         strict_lower=lo[1] if lo else False,
                         strict_upper=hi[1] if hi else False,
                         parity=parity[0] if parity else None)
        if lo and hi and (_empty(d) or (integer and d.finite_values == [])):
            also = f" and {parity[1]!r}" if parity else ""
            raise InputError(f"contradictory assumptions about {self.name}: {lo[2]!r}, "
                             f"{hi[2]!r}{also} leave no value")
        return d


def _int_lower(v: Fraction, strict: bool) -> Fraction:
    return Fraction(math.floor(v) + 1) if strict else Fraction(math.ceil(v))


def _int_upper(v: Fraction, strict: bool) -> Fraction:
    return Fraction(math.ceil(v) - 1) if strict else Fraction(math.floor(v))


def _empty(d: SymbolDomain) -> bool:
    assert d.lower is not None and d.upper is not None
    return d.lower > d.upper or (d.lower == d.upper and (d.strict_lower or d.strict_upper))


def _as_bound(rel: Any, facts: dict[str, _Facts], text: str) -> bool:
    """Record ``x >= c`` / ``c < x`` / ``x == c`` as bounds of ``x``; False for anything
    else (kept as a constraint that sampled points must satisfy)."""
    if not isinstance(rel, (sympy.GreaterThan, sympy.StrictGreaterThan, sympy.LessThan,
                            sympy.StrictLessThan, sympy.Equality)):
        return False
    lhs, rhs = rel.lhs, rel.rhs
    if isinstance(lhs, sympy.Symbol) and rhs.is_number:
        name, value, flipped = lhs.name, _as_fraction(rhs), False
    elif isinstance(rhs, sympy.Symbol) and lhs.is_number:
        name, value, flipped = rhs.name, _as_fraction(lhs), True
    else:
        return False
    if value is None:
        return False
    f = facts.setdefault(name, _Facts(name))
    if isinstance(rel, sympy.Equality):
        f.bound(value, False, True, text)
        f.bound(value, False, False, text)
        return True
    greater = isinstance(rel, (sympy.GreaterThan, sympy.StrictGreaterThan))
    strict = isinstance(rel, (sympy.StrictGreaterThan, sympy.StrictLessThan))
    f.bound(value, strict, greater != flipped, text)
    return True
