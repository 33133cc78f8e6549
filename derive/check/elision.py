r"""Elided sums: ``1 + 2 + \dots + n`` read as the sum it abbreviates, or refused.

Design rule: a pattern is accepted only when it is the one reading of what is written.
The terms before the dots fix a template ``T(k)``: the written terms are ``T(0), T(1), ...``
and every place where two consecutive terms differ changes by a whole number per term
(``x_1, x_2``; ``1, 3``; ``s, s^2``).  With a single term before the dots each place that
differs from the last term counts up (or down, between two numbers) by one.  The last term
must be ``T(m)`` for one ``m`` found from every place alike; otherwise the reading is
refused with the reason, and the writer is asked for ``\sum``.

>>> a, n = sympy.symbols("a n")
>>> elided_sum([sympy.Integer(1), sympy.Integer(2)], n)
Sum(k, (k, 1, n))
>>> x = sympy.IndexedBase("x")
>>> elided_sum([x[1]], x[n])
Sum(x[k], (k, 1, n))
>>> elided_sum([sympy.Integer(1), a, a**2], a**(n - 1))
Sum(a**k, (k, 0, n - 1))
>>> elided_sum([x[1], x[3]], x[n])
Traceback (most recent call last):
...
ValueError: the last term x[n] is not a term of the pattern x[2*k + 1]
"""

from __future__ import annotations

from typing import Any

import sympy

_INDEX_NAMES = ("k", "j", "m", "u", "v", "t")


def elided_sum(before: list[Any], last: Any) -> Any:
    """The ``Sum`` that ``before[0] + ... + before[-1] + ... + last`` abbreviates.

    Raises :class:`ValueError` saying why when the pattern is not the only reading.
    """
    names = set()
    for term in [*before, last]:
        names |= {getattr(s, "name", str(s)) for s in term.free_symbols}
        names |= {str(b) for b in term.atoms(sympy.IndexedBase)}
    name = next((c for c in _INDEX_NAMES if c not in names), None)
    if name is None:
        raise ValueError("no free name for the summation index")
    k = sympy.Symbol(name, integer=True)
    if len(before) >= 2:
        template = _template(before[0], before[1], k, unit=False)
    else:
        template = _template(before[0], last, k, unit=True)
    if template is None or not template.has(k):
        shown = ", ".join(str(t) for t in before[:2])
        raise ValueError(f"the terms {shown} do not follow a pattern with whole-number steps")
    for j, term in enumerate(before):
        if sympy.simplify(template.subs(k, j) - term) != 0:
            raise ValueError(f"the written term {term} is not term {j + 1} of the pattern "
                             f"{template}")
    m = _count(template, last, k)
    if (m is None or not _whole(m)
            or sympy.simplify(template.subs(k, m) - last) != 0):
        raise ValueError(f"the last term {last} is not a term of the pattern {template}")
    if m.is_number and (not m.is_integer or m < len(before)):
        raise ValueError(f"the last term {last} comes before or among the written terms")
    start = _first_slot(before[0], template, k)
    if start is not None:     # count from the first written index: x_1 .. x_n, not 0 .. n-1
        return sympy.Sum(template.subs(k, k - start), (k, start, sympy.expand(m + start)))
    return sympy.Sum(template, (k, 0, m))


def _template(a: Any, b: Any, k: Any, unit: bool, index: bool = False) -> Any:
    """``T`` with ``T(0) = a`` and ``T(1) = b`` (``unit``: ``T(m) = b`` for some m, each
    differing place counting by one; ``index``: the place is an array index or an
    exponent, where a count may start from a name, as in ``x_{i}``), or None."""
    if a == b:
        return a
    d = sympy.expand(b - a)
    if not unit and d.is_Integer:
        return a + d * k
    if unit and a.is_Integer:
        step = -1 if (b.is_number and b < a) else 1
        return a + step * k
    if a == 1 and not unit and not b.is_number and not isinstance(b, sympy.Pow):
        return sympy.Pow(b, k)      # 1, s, s^2 ...: powers of s
    if isinstance(b, sympy.Pow) and not isinstance(a, sympy.Pow):
        if a == 1:      # 1, s, s^2 ...: 1 is s^0
            return _power(b.base, sympy.Integer(0), b.exp, k, unit)
        if a == b.base:
            return _power(b.base, sympy.Integer(1), b.exp, k, unit)
    if isinstance(a, sympy.Pow) and not isinstance(b, sympy.Pow) and b == a.base:
        return _power(a.base, a.exp, sympy.Integer(1), k, unit)
    if (a.func != b.func or len(a.args) != len(b.args) or not a.args
            or isinstance(a, (sympy.Number, sympy.Symbol))):
        # a place that differs from the last term, with one term written: it counts by one
        return a + k if unit and index and not isinstance(a, sympy.Indexed) else None
    inside = index or isinstance(a, sympy.Indexed)
    args = [_template(x, y, k, unit, inside) for x, y in zip(a.args, b.args)]
    if any(t is None for t in args):
        return None
    return a.func(*args)


def _whole(m: Any) -> bool:
    """A count that is a whole number wherever its symbols are: a polynomial with integer
    coefficients (``n - 1``, ``2*K``), not ``(n**2 + n - 2)/4``."""
    if m.is_number:
        return bool(m.is_Integer)
    names = sorted(m.free_symbols, key=str)
    if not m.is_polynomial(*names):
        return False
    return all(c.is_Integer for c in sympy.Poly(m, *names).coeffs())


def _power(base: Any, e0: Any, e1: Any, k: Any, unit: bool) -> Any:
    exponent = _template(e0, e1, k, unit, index=True)
    return None if exponent is None else sympy.Pow(base, exponent)


def _count(template: Any, last: Any, k: Any) -> Any:
    """The m with ``template(m) == last``, found place by place (None when the places
    disagree or the shapes differ)."""
    found: list[Any] = []
    if not _match(template, last, k, found) or not found:
        return None
    m = found[0]
    if any(sympy.simplify(other - m) != 0 for other in found[1:]):
        return None
    return sympy.expand(m)


def _match(t: Any, last: Any, k: Any, found: list[Any]) -> bool:
    if not t.has(k):
        return sympy.simplify(t - last) == 0
    coeff = sympy.expand(t).coeff(k)
    rest = sympy.expand(t - coeff * k)
    if coeff != 0 and not coeff.has(k) and not rest.has(k) and _is_slot(t, k):
        found.append((last - rest) / coeff)
        return True
    if isinstance(t, sympy.Pow) and not isinstance(last, sympy.Pow):
        if last == 1:
            return _match(t.exp, sympy.Integer(0), k, found)
        if last == t.base:
            return _match(t.exp, sympy.Integer(1), k, found)
    if t.func != last.func or len(t.args) != len(last.args):
        return False
    return all(_match(x, y, k, found) for x, y in zip(t.args, last.args))


def _is_slot(t: Any, k: Any) -> bool:
    """A place of the template that counts: linear in k with whole-number steps."""
    if not isinstance(t, sympy.Expr) or not t.is_polynomial(k):
        return False
    return sympy.Poly(t, k).degree() == 1 and sympy.expand(t).coeff(k).is_Integer


def _first_slot(first: Any, template: Any, k: Any) -> Any:
    """The starting index when the template is ``c + k`` at one place (x_{c+k}, c + k)."""
    slots = [s for s in sympy.preorder_traversal(template)
             if isinstance(s, sympy.Expr) and s != k and s.has(k) and _is_slot(s, k)
             and sympy.expand(s).coeff(k) == 1]
    if len(slots) != 1:
        return None
    start = sympy.expand(slots[0]).subs(k, 0)
    return start if start.is_Integer and start != 0 else None
