"""Where a claim is defined: the divisors that must not vanish, and whether they can.

Design rule: a claim is proved only where both sides have a value, so before any proof
strategy runs, every divisor of the claim (the text's own ``/``, ``//``, ``%`` and ``Mod``,
kept even where SymPy cancelled them, as in ``x/x``; negative powers; the arguments of
``log``) must be shown non-zero on the whole domain.  A divisor is non-zero when SymPy's
assumptions decide it on the domain's symbols (lower bounds made positive by a shift), or
when it has no integer zero inside the domain (one variable: its rational roots; several:
solved for a variable it is linear in).  A zero inside the domain is returned as a point;
a divisor that can be settled neither way leaves the claim unproved.

>>> from derive.check.domain import build_domain
>>> import sympy
>>> x = sympy.Symbol("x")
>>> d = build_domain(["x"], ["x >= 0"])
>>> undefined_points([x - 3], d)
({'x': 3}, None)
>>> undefined_points([x + 1], d)
(None, None)
"""

from __future__ import annotations

import itertools
from fractions import Fraction
from typing import Any, Sequence

import sympy

from derive.check.domain import Domain

_SIGNED = (sympy.Sum, sympy.Product)


def divisors(*exprs: Any) -> list[Any]:
    """Every expression that must not be zero for ``exprs`` to have a value.  Inside a sum
    a divisor is taken as the product of its values over the sum's ranges, which is zero
    exactly when some term divides by zero (and 1 over an empty range, whose terms are
    never evaluated).

    >>> a, b, k, n = sympy.symbols("a b k n")
    >>> divisors(a / (b - 1) + sympy.Mod(a, b + 2))
    [b - 1, b + 2]
    >>> divisors(sympy.Sum(1 / (k - a), (k, 1, n)))
    [Product(-a + k, (k, 1, n))]
    """
    out: list[Any] = []

    def walk(e: Any, ranges: tuple) -> None:
        if not isinstance(e, sympy.Basic) or e.is_Atom:
            return
        if isinstance(e, sympy.Piecewise):
            # a branch's divisors matter only where that branch is the one taken
            taken = sympy.false
            for branch, cond in e.args:
                guard = sympy.And(cond, sympy.Not(taken))
                inner: list[Any] = []
                for d in divisors(branch):
                    inner.append(d if guard is sympy.true else
                                 sympy.Piecewise((d, guard), (1, True)))
                for d in inner:
                    _keep(d, ranges, out)
                walk(cond, ranges)
                taken = sympy.Or(taken, cond)
            return
        if isinstance(e, _SIGNED):
            walk(e.function, tuple(e.limits) + ranges)
            for i, (_, lo, hi) in enumerate(e.limits):
                walk(lo, tuple(e.limits[i + 1:]) + ranges)
                walk(hi, tuple(e.limits[i + 1:]) + ranges)
            return
        if isinstance(e, sympy.Pow) and e.exp.is_number and e.exp.is_negative:
            _keep(e.base, ranges, out)
        elif isinstance(e, sympy.Mod):
            _keep(e.args[1], ranges, out)
        for a in e.args:
            walk(a, ranges)

    for e in exprs:
        walk(e, ())
    return sorted(dict.fromkeys(out), key=sympy.default_sort_key)


def log_arguments(*exprs: Any) -> list[Any]:
    """The arguments of logarithms and of non-integer powers, which must be positive
    (resp. non-negative) for a real value: a proof needs them settled by assumptions.

    >>> x = sympy.Symbol("x")
    >>> log_arguments(sympy.log(x - 1) + sympy.sqrt(x))
    [x, x - 1]
    """
    out: list[Any] = []
    for e in exprs:
        if isinstance(e, sympy.Basic):
            for node in e.atoms(sympy.log, sympy.Pow):
                if isinstance(node, sympy.log):
                    out.append(node.args[0])
                elif node.exp.is_number and not node.exp.is_integer:
                    out.append(node.base)
    return sorted(dict.fromkeys(a for a in out if not a.is_number), key=sympy.default_sort_key)


def positive_unsettled(arguments: Sequence[Any], domain: Domain) -> Any:
    """The first argument that SymPy's assumptions do not show positive on the domain."""
    for a in arguments:
        if not _sign_by_assumptions(a, domain, "positive"):
            return a
    return None


def _keep(e: Any, ranges: tuple, out: list[Any]) -> None:
    if e.is_number:
        return
    out.append(sympy.Product(e, *ranges) if ranges else e)


def undefined_points(conditions: Sequence[Any], domain: Domain
                     ) -> tuple[dict[str, Any] | None, Any]:
    """``(point, None)`` with a point of the domain where a condition is zero;
    ``(None, None)`` when every condition is non-zero on the whole domain;
    ``(None, condition)`` naming one that could be settled neither way."""
    from derive.check.evaluate import _write_out
    for c in conditions:
        if _is_guarded(c):
            divisor, guard = c.args[0]
            where = _within(domain, guard)
            if where is None:
                return None, c              # the branch's domain is not one we can build
            if where is False:
                continue                    # the branch is never taken on the domain
            point, unsettled = undefined_points([divisor], where)
            if point is not None or unsettled is not None:
                return point, (c if unsettled is not None else None)
            continue
        if c.is_number:
            if _write_out(c) == 0:
                return {}, None
            continue
        if isinstance(c, sympy.Product):
            # a divisor inside sums: non-zero for every index from each lower limit up
            # (a stronger statement than needed, so a sound one)
            body, subs = c.function, {}
            for var, lo, _ in reversed(c.limits):
                subs[var] = lo.xreplace(subs) + sympy.Dummy("t", integer=True, nonnegative=True)
            if _nonzero_by_assumptions(body.xreplace(subs), domain):
                continue
            return None, c
        if _nonzero_by_assumptions(c, domain):
            continue
        point, settled = _zero_in_domain(c, domain)
        if point is not None:
            return point, None
        if not settled:
            return None, c
    return None, None


def _is_guarded(c: Any) -> bool:
    """A divisor of one Piecewise branch: ``Piecewise((d, guard), (1, True))``."""
    return (isinstance(c, sympy.Piecewise) and len(c.args) == 2
            and c.args[1].cond is sympy.true and c.args[1].expr == 1)


def _within(domain: Domain, guard: Any) -> Any:
    """The domain where ``guard`` holds (``False`` when it never does; ``None`` when the
    guard is not a conjunction of comparisons of one symbol with a number).  On integers,
    ``s != c`` at an end of the range moves that end (``S >= 1, S != 1`` is ``S >= 2``)."""
    from derive.check.domain import build_domain
    from derive.errors import InputError

    parts = sympy.And.make_args(guard)
    extra = []
    for p in parts:
        if not isinstance(p, sympy.core.relational.Relational):
            return None
        sides = [a for a in (p.lhs, p.rhs) if a.is_Symbol]
        if len(sides) != 1 or not (p.lhs.is_number or p.rhs.is_number):
            return None
        if isinstance(p, sympy.Ne):
            sym, value = (p.lhs, p.rhs) if p.lhs.is_Symbol else (p.rhs, p.lhs)
            d = domain.of(sym.name)
            if d.integer and d.lower is not None and value == d.lower:
                p = sympy.Ge(sym, value + 1)
            elif d.integer and d.upper is not None and value == d.upper:
                p = sympy.Le(sym, value - 1)
            else:
                return None
        extra.append(p)
    try:
        return build_domain(list(domain.symbols), list(domain.texts) + extra)
    except InputError:
        return False


def _nonzero_by_assumptions(c: Any, domain: Domain) -> bool:
    return _sign_by_assumptions(c, domain, "nonzero")


def _sign_by_assumptions(c: Any, domain: Domain, what: str) -> bool:
    """SymPy's assumptions on the domain's symbols (with integer lower bounds >= 2 shifted
    to a positive variable) decide ``c != 0`` (``what="nonzero"``) or ``c > 0``."""
    canon: dict[str, Any] = {}
    names = {q.name for q in c.free_symbols if not isinstance(q, sympy.Dummy)}
    for con in domain.constraints:
        names |= {q.name for q in con.free_symbols}
    for name in names:
        d = domain.of(name)
        if not d.integer and d.lower is None and d.upper is None:
            canon[name] = sympy.Symbol(name, real=True)
            continue
        t = d.sympy_symbol()
        if d.integer and d.lower is not None and d.lower >= 2:
            t = sympy.Dummy(name, integer=True, positive=True) + int(d.lower) - 1
        elif d.integer and d.upper is not None and d.lower is None and d.upper <= -1:
            t = -sympy.Dummy(name, integer=True, positive=True) + int(d.upper) + 1
        canon[name] = t

    def canonical(e: Any) -> Any:
        return sympy.expand(e.xreplace({q: canon[q.name] for q in e.free_symbols
                                        if q.name in canon and not isinstance(q, sympy.Dummy)}))

    e = _positive_functions(canonical(c))
    for form in (e, sympy.factor(e)):
        if (form.is_zero is False) if what == "nonzero" else (form.is_positive is True):
            return True
    # a relation among symbols: e >= f > 0 (or -e >= f > 0 for a divisor) settles it
    for f in _strict_facts(domain):
        f = canonical(f)
        if sympy.expand(e - f).is_nonnegative or (
                what == "nonzero" and sympy.expand(-e - f).is_nonnegative):
            return True
    return False


def _positive_functions(e: Any) -> Any:
    """``e`` with the values of functions that are positive where they are applied
    (``gamma`` and ``beta`` of positive arguments, ``exp`` of a real one) replaced by
    positive symbols, which SymPy's assumptions can then use."""
    reps = {}
    for f in e.atoms(sympy.gamma, sympy.beta, sympy.exp, sympy.factorial):
        if isinstance(f, sympy.exp):
            ok = f.args[0].is_real is True
        elif isinstance(f, sympy.factorial):
            ok = f.args[0].is_nonnegative is True and f.args[0].is_integer is True
        else:
            ok = all(a.is_positive is True for a in f.args)
        if ok:
            reps[f] = sympy.Dummy("v", positive=True)
    return e.xreplace(reps) if reps else e


def _strict_facts(domain: Domain) -> list[Any]:
    """Expressions the relations among symbols make strictly positive."""
    out = []
    for c in domain.constraints:
        if isinstance(c, sympy.StrictGreaterThan):
            out.append(c.lhs - c.rhs)
        elif isinstance(c, sympy.StrictLessThan):
            out.append(c.rhs - c.lhs)
    return out


BOX = 12          # values per other symbol tried when solving for one variable


def _zero_in_domain(c: Any, domain: Domain) -> tuple[dict[str, Any] | None, bool]:
    """A point of the domain where ``c`` is zero, if one is found; ``settled`` says whether
    the search was exhaustive (no zero exists)."""
    from derive.check.search import in_domain
    syms = sorted(c.free_symbols, key=lambda s: s.name)
    for target in syms:
        others = [s for s in syms if s is not target]
        try:
            poly = sympy.Poly(c, target)
        except sympy.PolynomialError:
            continue
        if poly.degree() < 1:
            continue
        # settled when every value of the other symbols is tried and every root is seen
        # (the rational roots are all the roots that matter for an integer symbol)
        exhaustive = not others and (domain.of(target.name).integer or poly.degree() == 1)
        grids = [_values(domain, s.name) for s in others]
        if any(g is None for g in grids):
            exhaustive = False
            grids = [g if g is not None else _some_values(domain, s.name)
                     for g, s in zip(grids, others)]
        for combo in itertools.product(*grids):  # type: ignore[arg-type]
            fixed = {s: sympy.Rational(v.numerator, v.denominator) for s, v in zip(others, combo)}
            try:
                residual = c.xreplace(fixed)
            except (ArithmeticError, ValueError, TypeError):
                exhaustive = False
                continue
            if residual == 0:
                roots = [_first_value(domain, target.name)]
            else:
                try:
                    roots = [r for r in sympy.Poly(residual, target).ground_roots()]
                except (sympy.PolynomialError, NotImplementedError):
                    exhaustive = False
                    continue
            for r in roots:
                if r is None or not r.is_Rational:
                    continue
                point = {s.name: v for s, v in zip(others, combo)}
                point[target.name] = Fraction(int(r.p), int(r.q))
                if not domain.of(target.name).contains(point[target.name]):
                    continue           # the zero lies outside the symbol's range
                full = _complete(point, domain)
                if full is not None and in_domain(domain, full) and _constraints_hold(domain, full):
                    return {k: _plain(v) for k, v in full.items()}, True
                exhaustive = False     # a zero in range, but no full point shown for it
        if exhaustive:
            return None, True
    return None, False


def _values(domain: Domain, name: str) -> list[Fraction] | None:
    vals = domain.of(name).finite_values
    if vals is None or len(vals) > BOX:
        return None
    return [Fraction(v) for v in vals]


def _some_values(domain: Domain, name: str) -> list[Fraction]:
    from derive.check.search import _small_values
    return _small_values(domain.of(name), BOX)


def _first_value(domain: Domain, name: str) -> Any:
    vals = _some_values(domain, name)
    return sympy.Rational(vals[0].numerator, vals[0].denominator) if vals else None


def _complete(point: dict[str, Fraction], domain: Domain) -> dict[str, Fraction] | None:
    """The point with every other symbol of the domain at its smallest value."""
    full = dict(point)
    for name in domain.symbols:
        if name not in full:
            vals = _some_values(domain, name)
            if not vals:
                return None
            full[name] = vals[0]
    return full


def _constraints_hold(domain: Domain, point: dict[str, Fraction]) -> bool:
    env = {sympy.Symbol(k): sympy.Rational(v.numerator, v.denominator) for k, v in point.items()}
    try:
        return all(bool(c.xreplace(env)) is True for c in domain.constraints)
    except (TypeError, ArithmeticError, ValueError):
        return False


def _plain(v: Fraction) -> Any:
    return int(v) if v.denominator == 1 else v
