"""The engine's own floor/ceiling/Mod lemma layer.

SymPy's ``simplify`` proves few floor identities (and has returned wrong answers around
them), so the engine rewrites floors into a canonical form with a handful of lemmas, each
valid under side conditions that are checked (through SymPy's assumptions on the declared
domains) before the lemma is applied.  Every lemma is tested against brute force in
``tests/test_lemmas.py``.  After rewriting, two sides are equal if they agree as
polynomials in their (canonical) floor atoms.

Canonical floor atom: ``floor(r/d)`` with ``d`` a positive integer-valued expression,
``r`` an integer-valued polynomial with no part divisible by ``d`` and a non-negative
leading coefficient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy


@dataclass(frozen=True)
class Lemma:
    name: str
    statement: str
    condition: str


LEMMAS = {
    "mod-as-floor": Lemma("mod-as-floor", "Mod(a, b) = a - b*floor(a/b)", "b != 0"),
    "ceiling-as-floor": Lemma("ceiling-as-floor", "ceiling(x) = -floor(-x)", "x real"),
    "integer-shift": Lemma("integer-shift", "floor(x + m) = floor(x) + m",
                           "m integer, x real"),
    "floor-reflection": Lemma("floor-reflection", "floor(-n/d) = -floor((n + d - 1)/d)",
                              "n integer, d integer >= 1"),
    "nested-floor": Lemma("nested-floor", "floor((floor(x) + c)/d) = floor((x + c)/d)",
                          "c integer, d integer >= 1, x real"),
    "floor-of-integer": Lemma("floor-of-integer", "floor(n) = n", "n integer"),
    "bounded-remainder": Lemma("bounded-remainder", "floor(r/d) = 0",
                               "r integer, 0 <= r <= d - 1 (from the assumptions)"),
}


class Rewriter:
    """Rewrites an expression into canonical floor form, recording the lemmas used."""

    def __init__(self, facts: Any = ()) -> None:
        self.used: dict[str, Lemma] = {}
        self.facts = [sympy.expand(f) for f in facts]   # expressions known to be >= 0

    def nonnegative(self, e: Any) -> bool:
        """Is ``e >= 0`` implied by SymPy's assumptions, alone or after one fact?"""
        e = sympy.expand(e)
        if e.is_nonnegative:
            return True
        return any(sympy.expand(e - f).is_nonnegative for f in self.facts)

    def _use(self, name: str) -> None:
        self.used[name] = LEMMAS[name]

    def normalize(self, e: Any) -> Any:
        if not isinstance(e, sympy.Basic) or e.is_Atom:
            return e
        if not e.has(sympy.floor, sympy.ceiling, sympy.Mod, sympy.frac):
            return e
        if isinstance(e, sympy.Mod):
            a, b = (self.normalize(x) for x in e.args)
            if b.is_zero is False:
                self._use("mod-as-floor")
                return sympy.expand(a - b * self.floor(a / b))
            return sympy.Mod(a, b)
        if isinstance(e, sympy.ceiling):
            self._use("ceiling-as-floor")
            return -self.floor(-self.normalize(e.args[0]))
        if isinstance(e, sympy.floor):
            return self.floor(self.normalize(e.args[0]))
        if isinstance(e, sympy.frac):
            x = self.normalize(e.args[0])
            return x - self.floor(x)
        if isinstance(e, (sympy.Sum, sympy.Product)):
            return e  # bound variables: leave sums alone
        return e.func(*[self.normalize(a) for a in e.args])

    def floor(self, x: Any, depth: int = 0) -> Any:
        """Canonical form of ``floor(x)`` (``x`` already normalized)."""
        if x.is_integer:
            self._use("floor-of-integer")
            return x
        n, d = sympy.fraction(sympy.cancel(sympy.together(x)))
        n, d = sympy.expand(n), sympy.expand(d)
        # cancel keeps rational coefficients (H/2 - 1/2): move their denominators into d
        content, primitive = n.as_content_primitive()
        if content.is_Rational and content.q != 1:
            n, d = sympy.expand(content.p * primitive), sympy.expand(content.q * d)
        if d.is_number and d < 0 or (-d).is_positive:
            n, d = -n, -d
        if not (d.is_integer and d.is_positive and n.is_integer):
            # Nothing to apply; keep a canonical argument so equal atoms compare equal.
            return sympy.floor(sympy.expand(n) / d)
        # nested floor: floor((floor(y) + c)/d) = floor((y + c)/d)
        if depth < 8:
            for term in sympy.Add.make_args(n):
                if isinstance(term, sympy.floor):
                    rest = sympy.expand(n - term)
                    if rest.is_integer:
                        self._use("nested-floor")
                        inner = term.args[0]
                        return self.floor(sympy.expand(inner + rest) / d, depth + 1)
        whole, rest = _split_integer_part(n, d)
        if whole != 0:
            self._use("integer-shift")
        if rest == 0:
            return whole
        if self.nonnegative(rest) and self.nonnegative(d - 1 - rest):
            self._use("bounded-remainder")
            return whole
        if _leading_coefficient(rest) < 0:
            self._use("floor-reflection")
            flipped_whole, flipped_rest = _split_integer_part(sympy.expand(-rest + d - 1), d)
            if flipped_whole != 0:
                self._use("integer-shift")
            inner = sympy.floor(flipped_rest / d) if flipped_rest != 0 else sympy.Integer(0)
            return sympy.expand(whole - flipped_whole - inner)
        return whole + sympy.floor(rest / d)


def _split_integer_part(n: Any, d: Any) -> tuple[Any, Any]:
    """``n = whole*d + rest`` with ``whole`` integer-valued, taking out what divides."""
    whole, rest = sympy.Integer(0), sympy.Integer(0)
    for term in sympy.Add.make_args(sympy.expand(n)):
        if d.is_Integer:
            coeff, monomial = term.as_coeff_Mul()
            if coeff.is_Integer and monomial.is_integer:
                q, r = divmod(int(coeff), int(d))
                whole += q * monomial
                rest += r * monomial
                continue
        q = sympy.cancel(term / d)
        if q.is_integer and sympy.fraction(q)[1] == 1:
            whole += q
        else:
            rest += term
    return sympy.expand(whole), sympy.expand(rest)


def _leading_coefficient(p: Any) -> Any:
    gens = sorted(p.free_symbols, key=lambda s: s.name)
    atoms = sorted(p.atoms(sympy.floor), key=sympy.default_sort_key)
    gens = list(atoms) + gens
    if not gens:
        return p
    try:
        return sympy.Poly(p, *gens).LC()
    except sympy.PolynomialError:
        return 1


def canonical_difference(lhs: Any, rhs: Any, facts: Any = ()) -> tuple[Any, dict[str, Lemma]]:
    """Rewrite both sides, return ``expand(lhs - rhs)`` in canonical atoms and the lemmas.

    >>> a, b = sympy.symbols("a b", integer=True, positive=True)
    >>> diff, used = canonical_difference(sympy.ceiling(a/b), sympy.floor((a + b - 1)/b))
    >>> diff, sorted(used)
    (0, ['ceiling-as-floor', 'floor-reflection', 'integer-shift'])
    """
    rw = Rewriter(facts)
    left, right = rw.normalize(lhs), rw.normalize(rhs)
    diff = sympy.expand(left - right)
    if diff != 0 and not diff.has(sympy.floor):
        diff = sympy.cancel(diff)
    elif diff != 0:
        # compare as polynomials in the floor atoms, with rational coefficients
        atoms = sorted(diff.atoms(sympy.floor), key=sympy.default_sort_key)
        fresh = {a: sympy.Dummy(f"f{i}") for i, a in enumerate(atoms)}
        diff = sympy.cancel(sympy.together(diff.xreplace(fresh)))
        diff = diff.xreplace({v: k for k, v in fresh.items()})
    return diff, rw.used
