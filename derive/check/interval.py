"""Rigorous numeric comparison of irrational values: interval arithmetic, raised precision.

Design rule: a numeric comparison may refute only when the two sides' enclosures are
disjoint, and may report agreement only to the precision actually reached.  Each side is
enclosed in an interval (mpmath's ``iv`` context, outward rounding) at 64 bits, then at
256, 1024 and 4096 bits while the verdict is still open; cancellation such as
``(exp(183) + 1)**2 - exp(366) - 2*exp(183)`` then costs precision, never soundness.
An operation whose enclosure cannot decide (a divisor or a floor argument that straddles a
boundary) raises :class:`Inconclusive` and the next precision is tried.

>>> import sympy
>>> from fractions import Fraction
>>> import random
>>> x = sympy.Symbol("x")
>>> inst = Instance({"x": Fraction(183)}, random.Random(0))
>>> compare((sympy.exp(x) + 1)**2 - sympy.exp(2*x) - 2*sympy.exp(x), sympy.Integer(1), inst).kind
'agree'
>>> compare(sympy.sqrt(2), sympy.Rational(1414213562373095, 10**15), inst).kind
'differ'
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import sympy
from mpmath import iv, mp, mpf, nstr
from mpmath.libmp.libmpf import ComplexResult

from derive.check.evaluate import Declined, Instance, Undefined

PRECISIONS = (64, 256, 1024, 4096)     # bits, tried in turn
AGREE_BITS = 100                       # agreement is claimed to about 30 significant digits
SHOWN_DIGITS = 30
DISPLAY_BITS = 256                     # enough for SHOWN_DIGITS correct digits


class Inconclusive(Exception):
    """The enclosure at this precision cannot decide an operation."""


@dataclass(frozen=True)
class NumericOutcome:
    kind: str                  # "differ", "agree", "undefined" or "inconclusive"
    lhs: str = ""              # each side to SHOWN_DIGITS digits ("undefined" if it is)
    rhs: str = ""
    reason: str = ""


def compare(lhs: Any, rhs: Any, inst: Instance) -> NumericOutcome:
    """Compare two SymPy expressions at the point ``inst`` by interval arithmetic."""
    def decide(a: Any, b: Any, bits: int) -> NumericOutcome | None:
        # complex values: the real and the imaginary parts compared separately
        parts = [(x, y) for x, y in zip(a, b)]
        with mp.workprec(bits + 16):
            ends = [_ends(x - y) for x, y in parts]
            if any(not (lo <= 0 <= hi) for lo, hi in ends):
                return _differ(lhs, rhs, inst, a, b)
            scale = max([mpf(1)] + [_ends(abs(v))[1] for pair in parts for v in pair])
            if all(hi - lo <= scale * mpf(2) ** -AGREE_BITS for lo, hi in ends):
                return NumericOutcome("agree", _show(a), _show(b))
        return None

    return _at_precisions(lhs, rhs, inst, decide)


def within(lhs: Any, rhs: Any, tolerance: Fraction) -> NumericOutcome:
    """Decide ``|lhs - rhs| <= tolerance`` for two closed real expressions: "agree" when
    the enclosure of the distance lies inside the tolerance, "differ" when it lies outside.

    >>> within(sympy.pi, sympy.Rational(31416, 10000), Fraction(5, 10**5)).kind
    'agree'
    >>> within(sympy.Rational(2, 3), sympy.Rational(666, 1000), Fraction(5, 10**4)).kind
    'differ'
    """
    import random

    inst = Instance({}, random.Random(0))

    def decide(a: Any, b: Any, bits: int) -> NumericOutcome | None:
        if _ends(a[1]) != (0, 0) or _ends(b[1]) != (0, 0):
            return NumericOutcome("inconclusive", reason="a side is not a real number")
        tol = _rational(tolerance.numerator, tolerance.denominator)
        with mp.workprec(bits + 16):
            lo, hi = _ends(abs(a[0] - b[0]))
            t_lo, t_hi = _ends(tol)
            if hi <= t_lo:
                return NumericOutcome("agree", _show(a), _show(b))
            if lo > t_hi:
                return _differ(lhs, rhs, inst, a, b)
        return None

    return _at_precisions(lhs, rhs, inst, decide)


def _at_precisions(lhs: Any, rhs: Any, inst: Instance, decide: Any) -> NumericOutcome:
    """Enclose both sides at each precision in turn until ``decide(a, b, bits)`` gives an
    outcome; an undefined side or a declined evaluation ends the search."""
    saved = iv.prec
    # The symbolic work of a side (splitting a complex value into its real and imaginary
    # parts) does not depend on the precision: done once per side, and once for both when
    # the two sides are the same expression (their values are then the same).
    parts: dict[int, Any] = {}
    same = lhs == rhs

    def side(e: Any, k: int) -> Any:
        if k not in parts:
            parts[k] = _parts(e, inst)
        return _enclose_parts(parts[k], inst)

    try:
        for bits in PRECISIONS:
            iv.prec = bits
            try:
                a = side(lhs, 0)
                b = a if same else side(rhs, 1)
            except Inconclusive:
                continue
            except Declined as exc:
                return NumericOutcome("inconclusive", reason=str(exc))
            if isinstance(a, str) or isinstance(b, str):
                return NumericOutcome("undefined", a if isinstance(a, str) else _show(a),
                                      b if isinstance(b, str) else _show(b))
            outcome = decide(a, b, bits)
            if outcome is not None:
                return outcome
        return NumericOutcome("inconclusive", reason=f"no decision at {PRECISIONS[-1]} bits")
    finally:
        iv.prec = saved


def _differ(lhs: Any, rhs: Any, inst: Instance, a: Any, b: Any) -> NumericOutcome:
    """The outcome "differ", with both values shown to 30 digits (enclosed again at a
    precision that supports them, so that the shown values differ too)."""
    if iv.prec < DISPLAY_BITS:
        iv.prec = DISPLAY_BITS
        try:
            a, b = _side(lhs, inst), _side(rhs, inst)
        except (Inconclusive, Declined):
            pass
    return NumericOutcome("differ", _show(a), _show(b))


def _side(e: Any, inst: Instance) -> Any:
    """The enclosures of one side's real and imaginary parts, or the word "undefined"."""
    return _enclose_parts(_parts(e, inst), inst)


def _parts(e: Any, inst: Instance) -> tuple[Any, Any] | Exception:
    """A side as a real part and an imaginary part (None for a real expression) at the
    point, or the :class:`Declined` or :class:`Undefined` met while splitting it."""
    try:
        if e.has(sympy.I):
            env = {q: sympy.Rational(v.numerator, v.denominator)
                   for q in e.free_symbols if (v := inst.values.get(q.name)) is not None}
            re, im = sympy.expand_complex(e.xreplace(env)).as_real_imag()
            if re.has(sympy.I) or im.has(sympy.I):
                raise Declined("could not split the value into real and imaginary parts")
            return (re, im)
        return (e, None)
    except (Declined, Undefined) as exc:
        return exc


def _enclose_parts(parts: tuple[Any, Any] | Exception, inst: Instance) -> Any:
    if isinstance(parts, Exception):
        if isinstance(parts, Undefined):
            return "undefined"
        raise parts
    re, im = parts
    try:
        return (_enclose(re, inst, {}), iv.mpf(0) if im is None else _enclose(im, inst, {}))
    except Undefined:
        return "undefined"


def _ends(v: Any) -> tuple[Any, Any]:
    """The endpoints of an interval as ordinary mpf numbers."""
    lo, hi = v._mpi_
    return mpf(lo), mpf(hi)


def _show(value: Any) -> str:
    """The midpoint, to the digits that the enclosure's precision supports."""
    digits = max(6, min(SHOWN_DIGITS, int(iv.prec * 0.30) - 4))
    with mp.workprec(iv.prec + 16):
        re, im = (sum(_ends(part)) / 2 for part in value)
        text = nstr(re, digits)
        if im != 0:
            text += f" {'-' if im < 0 else '+'} {nstr(abs(im), digits)}*I"
        return text


def _exact(v: Any) -> Fraction:
    """The value of a degenerate enclosure of an integer (sum limits, indices)."""
    if v.a != v.b or v.a != int(v.a):
        raise Declined("an index or limit that is not an exact integer")
    return Fraction(int(v.a))


def _rational(p: int, q: int = 1) -> Any:
    return iv.mpf(p) / iv.mpf(q) if q != 1 else iv.mpf(p)


_UNARY = {sympy.exp: iv.exp, sympy.sin: iv.sin, sympy.cos: iv.cos, sympy.tan: iv.tan,
          sympy.erf: iv.erf, sympy.erfc: iv.erfc, sympy.loggamma: iv.loggamma}


def _enclose(e: Any, inst: Instance, bound: dict[str, Any]) -> Any:
    if e.is_Integer or e.is_Rational:
        return _rational(int(e.p), int(e.q))
    if e.is_Float:
        return iv.mpf(sympy.Rational(e).p) / iv.mpf(sympy.Rational(e).q)
    if isinstance(e, sympy.Symbol):
        v = bound.get(e.name, inst.values.get(e.name))
        if v is None:
            raise Declined(f"no value for {e.name}")
        return _rational(v.numerator, v.denominator) if isinstance(v, Fraction) else v
    if e is sympy.pi:
        return iv.pi
    if e is sympy.E:
        return iv.e
    if e is sympy.S.NaN or e is sympy.S.ComplexInfinity or e.is_infinite:
        raise Undefined("not finite")
    if isinstance(e, sympy.Add):
        out = iv.mpf(0)
        for a in e.args:
            out += _enclose(a, inst, bound)
        return out
    if isinstance(e, sympy.Mul):
        out = iv.mpf(1)
        for a in e.args:
            out *= _enclose(a, inst, bound)
        return out
    if isinstance(e, sympy.Pow):
        return _power(_enclose(e.base, inst, bound), e.exp, inst, bound)
    if isinstance(e, sympy.log) and len(e.args) == 1:
        x = _enclose(e.args[0], inst, bound)
        if x.b <= 0:
            raise Undefined("logarithm of a number that is not positive")
        if x.a <= 0:
            raise Inconclusive()
        return iv.log(x)
    for kind, fn in _UNARY.items():
        if isinstance(e, kind):
            return fn(_enclose(e.args[0], inst, bound))
    if isinstance(e, (sympy.floor, sympy.ceiling)):
        x = _enclose(e.args[0], inst, bound)
        rnd = math.floor if isinstance(e, sympy.floor) else math.ceil
        lo, hi = rnd(x.a), rnd(x.b)
        if lo != hi:
            raise Inconclusive()
        return iv.mpf(int(lo))
    if isinstance(e, sympy.Mod):
        p, q = (_enclose(a, inst, bound) for a in e.args)
        if q.a == q.b == 0:
            raise Undefined("modulo zero")
        if q.a <= 0 <= q.b:
            raise Inconclusive()
        ratio = p / q
        lo, hi = math.floor(ratio.a), math.floor(ratio.b)
        if lo != hi:
            raise Inconclusive()
        return p - q * int(lo)
    if isinstance(e, sympy.Abs):
        return abs(_enclose(e.args[0], inst, bound))
    if isinstance(e, (sympy.Min, sympy.Max)):
        parts = [_enclose(a, inst, bound) for a in e.args]
        pick = min if isinstance(e, sympy.Min) else max
        return iv.mpf([pick(p.a for p in parts), pick(p.b for p in parts)])
    if isinstance(e, sympy.Indexed):
        idx = tuple(_exact(_enclose(i, inst, bound)) for i in e.indices)
        v = inst.indexed(str(e.base.label), idx)
        return _rational(v.numerator, v.denominator)
    if isinstance(e, (sympy.Sum, sympy.Product)):
        return _sum(e, inst, bound)
    if isinstance(e, sympy.gamma):
        x = _enclose(e.args[0], inst, bound)
        if x.a <= 0 and x.b >= 0 or (x.b < 0 and math.floor(_ends(x)[0]) != math.floor(_ends(x)[1])):
            raise Inconclusive()             # a pole of gamma may lie in the enclosure
        if x.a == x.b and x.a <= 0 and x.a == int(x.a):
            raise Undefined("gamma at a pole")
        return iv.gamma(x)
    if isinstance(e, sympy.beta) and len(e.args) == 2:
        a, b = (_enclose(t, inst, bound) for t in e.args)
        if a.a <= 0 or b.a <= 0:
            raise Declined("beta outside positive arguments")
        return iv.gamma(a) * iv.gamma(b) / iv.gamma(a + b)   # iv.beta itself fails
    if isinstance(e, (sympy.binomial, sympy.factorial, sympy.KroneckerDelta)):
        args = [_exact(_enclose(a, inst, bound)) for a in e.args]
        value = type(e)(*[sympy.Integer(int(a)) for a in args])
        if not value.is_Integer:
            raise Undefined("not finite")
        return iv.mpf(int(value))
    return _enclose_evaluated(e, inst, bound)


def _enclose_evaluated(e: Any, inst: Instance, bound: dict[str, Any]) -> Any:
    """A node without an interval rule (an integral, say): SymPy evaluates it exactly at
    the point first, and the result, if it is one the rules cover, is enclosed."""
    if bound or not isinstance(e, sympy.Basic) or isinstance(e, sympy.Derivative):
        raise Declined(f"no interval rule for {type(e).__name__}")
    env = {q: sympy.Rational(v.numerator, v.denominator)
           for q in e.free_symbols if (v := inst.values.get(q.name)) is not None}
    try:
        value = e.xreplace(env).doit()
    except (ArithmeticError, ValueError, TypeError, NotImplementedError) as exc:
        raise Declined(f"no interval rule for {type(e).__name__}") from exc
    if value == e or value.has(type(e)) or value.free_symbols:
        raise Declined(f"no interval rule for {type(e).__name__}")
    return _enclose(value, inst, bound)


def _power(base: Any, exp: Any, inst: Instance, bound: dict[str, Any]) -> Any:
    if exp.is_Integer:
        n = int(exp)
        if n < 0 and base.a <= 0 <= base.b:
            if base.a == base.b == 0:
                raise Undefined("division by zero")
            raise Inconclusive()
        return base ** n
    x = _enclose(exp, inst, bound)
    if base.b < 0:
        raise Undefined("a power of a negative number is not real here")
    if base.a == base.b == 0:
        if x.a > 0:
            return iv.mpf(0)
        raise Undefined("a non-positive power of zero")
    if base.a <= 0:
        raise Inconclusive()
    try:
        return iv.exp(x * iv.log(base))
    except ComplexResult:  # pragma: no cover - excluded by the sign tests above
        raise Inconclusive() from None


def _sum(e: Any, inst: Instance, bound: dict[str, Any]) -> Any:
    """A sum or product with limits that are integers at this point (empty range: 0 or 1)."""
    from derive.check.evaluate import MAX_SUM_TERMS
    is_sum = isinstance(e, sympy.Sum)
    limits = list(reversed(e.limits))        # SymPy's first limit is the innermost

    def run(k: int, env: dict[str, Any]) -> Any:
        if k == len(limits):
            return _enclose(e.function, inst, env)
        var, lo, hi = limits[k]
        a, b = _exact(_enclose(lo, inst, env)), _exact(_enclose(hi, inst, env))
        if b - a > MAX_SUM_TERMS:
            raise Declined("sum too long to expand")
        acc = iv.mpf(0) if is_sum else iv.mpf(1)
        for j in range(int(a), int(b) + 1):
            inner = dict(env)
            inner[str(var)] = iv.mpf(j)
            if is_sum:
                acc += run(k + 1, inner)
            else:
                acc *= run(k + 1, inner)
        return acc
    return run(0, bound)
