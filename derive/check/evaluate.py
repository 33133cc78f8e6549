"""Exact evaluation of SymPy expressions at concrete points, fast.

Expressions are compiled once into nested Python closures over :class:`fractions.Fraction`
(exact, and far quicker than ``subs``).  Indexed names (``x[i + k]``) are arbitrary
functions: each instance draws their values lazily from its own random generator, and the
values actually read are reported with a counterexample.  What the compiler does not
support falls back to SymPy's own exact evaluation.

Two ways of not producing a value are kept apart, because soundness depends on it:
:class:`Undefined` means the expression has no value there (a zero divisor, ``Mod(a, 0)``,
a negative power of zero), which makes a claim false at that point; :class:`Declined`
means the evaluator chose not to compute it (a result too large, an unsupported
construct), which decides nothing, and a finite-domain proof with a declined point is no
proof.

Sums and products follow the usual convention, not SymPy's (Karr's): a range whose upper
limit is below its lower limit is empty, so the sum is 0 and the product 1.  In
``Sum(f, (j, a, b), (k, c, d))`` the first limit is the innermost, as in SymPy.
"""

from __future__ import annotations

import math
import random
from fractions import Fraction
from typing import Any, Callable

import sympy
from sympy.core.function import AppliedUndef

MAX_SUM_TERMS = 20_000   # a concrete sum longer than this is not evaluated
MAX_RESULT_BITS = 1 << 20   # a power or binomial whose value is larger is not computed
MAX_BINOMIAL = 1_000_000
MAX_FACTORIAL = 20_000


class Undefined(ArithmeticError):
    """The expression has no value at this point (a zero divisor, ``Mod(a, 0)``...)."""


class Declined(Exception):
    """The evaluator did not compute the value here (too large, unsupported): no verdict
    may rest on this point."""


class Inexact(Exception):
    """The expression has an irrational value; compare numerically instead."""


Env = dict[str, Any]


class Instance:
    """One point: symbol values plus lazily drawn values of indexed names."""

    def __init__(self, values: dict[str, Fraction], rng: random.Random) -> None:
        self.values = values
        self.exact = exact_values(values)
        self.rng = rng
        self.arrays: dict[str, dict[tuple, int]] = {}

    def indexed(self, base: str, idx: tuple) -> int:
        table = self.arrays.setdefault(base, {})
        if idx not in table:
            table[idx] = self.rng.randint(-9, 9)
        return table[idx]

    def report(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: _plain(v) for k, v in self.values.items()}
        for base, table in self.arrays.items():
            for idx, v in sorted(table.items()):
                args = ', '.join(str(_plain(i)) for i in idx)
                key = f"{base[:-2]}({args})" if base.endswith("()") else f"{base}[{args}]"
                out[key] = _plain(v)
        return out


def exact_values(values: dict[str, Fraction]) -> dict[str, Any]:
    """The values as the compiled functions read them: whole numbers as ints.

    >>> exact_values({"a": Fraction(4), "b": Fraction(1, 2)})
    {'a': 4, 'b': Fraction(1, 2)}
    """
    return {k: _whole(v) if isinstance(v, Fraction) else v for k, v in values.items()}


def _whole(v: Fraction) -> Any:
    return v.numerator if v.denominator == 1 else v


def _plain(v: Fraction) -> Any:
    return int(v) if isinstance(v, Fraction) and v.denominator == 1 else v


Compiled = Callable[[Instance, dict], Fraction]


def compile_expr(expr: Any) -> Compiled:
    """Compile ``expr`` into ``f(instance, bound) -> Fraction``.

    >>> import sympy
    >>> a, b = sympy.symbols("a b")
    >>> f = compile_expr(sympy.floor((a + b - 1) / b))
    >>> f(Instance({"a": Fraction(7), "b": Fraction(3)}, random.Random(0)), {})
    Fraction(3, 1)
    """
    return _Compiler().compile(expr)


# The rational arguments at which these functions have a rational value (None: no finite
# value, as log(0)); at every other rational argument the value is irrational.
_EXACT_AT: dict[type, dict[Fraction, Fraction | None]] = {
    sympy.exp: {Fraction(0): Fraction(1)},
    sympy.sin: {Fraction(0): Fraction(0)},
    sympy.cos: {Fraction(0): Fraction(1)},
    sympy.tan: {Fraction(0): Fraction(0)},
    sympy.log: {Fraction(1): Fraction(0), Fraction(0): None},
}
_TRANSCENDENTAL = tuple(_EXACT_AT)


class _Compiler:
    def compile(self, e: Any) -> Compiled:
        """``e`` as a function of a point whose rational values are Fractions."""
        f = self._compile(e)

        def exact(inst: Instance, b: dict) -> Fraction:
            v = f(inst, b)
            return Fraction(v) if type(v) is int else v
        return exact

    # Inside, whole numbers are Python ints (most values are: sizes, indices, array entries)
    # and only true fractions are Fractions: int arithmetic is several times quicker, and
    # the two mix exactly.  A negative power is the one place where ints would not stay
    # exact (2 ** -1 is a float): it goes through Fraction.
    def _compile(self, e: Any) -> Compiled:
        if isinstance(e, (int, Fraction)):
            v = _whole(Fraction(e))
            return lambda inst, b: v
        if e.is_Integer or e.is_Rational:
            v = _whole(Fraction(int(e.p), int(e.q)))
            return lambda inst, b: v
        if isinstance(e, sympy.Symbol):
            name = e.name
            def sym(inst: Instance, bound: dict) -> Any:
                if name in bound:
                    return bound[name]
                try:
                    return inst.exact[name]
                except KeyError:
                    raise Declined(f"no value for {name}") from None
            return sym
        if isinstance(e, sympy.Add):
            parts = [self._compile(a) for a in e.args]
            return lambda inst, b: sum(p(inst, b) for p in parts)
        if isinstance(e, sympy.Mul):
            parts = [self._compile(a) for a in e.args]
            def mul(inst: Instance, b: dict) -> Any:
                out = 1
                for p in parts:
                    out *= p(inst, b)
                return out
            return mul
        if isinstance(e, sympy.Pow):
            base = self._compile(e.base)
            if e.exp.is_Integer:
                n = int(e.exp)
                def power(inst: Instance, b: dict) -> Fraction:
                    v = base(inst, b)
                    if v == 0 and n < 0:
                        raise Undefined("division by zero")
                    _check_power_size(v, n)
                    return v ** n if n >= 0 else Fraction(v) ** n
                return power
            exp = self._compile(e.exp)
            def gpow(inst: Instance, b: dict) -> Fraction:
                v, x = base(inst, b), exp(inst, b)
                if x.denominator == 1:
                    if v == 0 and x < 0:
                        raise Undefined("division by zero")
                    _check_power_size(v, x)
                    return v ** int(x) if x >= 0 else Fraction(v) ** int(x)
                if v < 0:
                    raise Undefined("root of a negative number")
                root = _exact_root(Fraction(v), x.denominator)
                if root is None:
                    raise Inexact()
                return root ** x.numerator
            return gpow
        if isinstance(e, sympy.floor):
            a = self._compile(e.args[0])
            return lambda inst, b: math.floor(a(inst, b))
        if isinstance(e, sympy.ceiling):
            a = self._compile(e.args[0])
            return lambda inst, b: math.ceil(a(inst, b))
        if isinstance(e, sympy.Mod):
            p, q = self._compile(e.args[0]), self._compile(e.args[1])
            def mod(inst: Instance, b: dict) -> Fraction:
                d = q(inst, b)
                if d == 0:
                    raise Undefined("modulo zero")
                return p(inst, b) % d
            return mod
        if isinstance(e, sympy.Abs):
            a = self._compile(e.args[0])
            return lambda inst, b: abs(a(inst, b))
        if isinstance(e, (sympy.Min, sympy.Max)):
            parts = [self._compile(a) for a in e.args]
            pick = min if isinstance(e, sympy.Min) else max
            return lambda inst, b: pick(p(inst, b) for p in parts)
        if isinstance(e, sympy.binomial):
            n, k = self._compile(e.args[0]), self._compile(e.args[1])
            def binom(inst: Instance, b: dict) -> Fraction:
                nv, kv = n(inst, b), k(inst, b)
                if nv.denominator != 1 or kv.denominator != 1:
                    raise Inexact()
                if nv > MAX_BINOMIAL or nv < -MAX_BINOMIAL or abs(kv) > MAX_BINOMIAL:
                    raise Declined("binomial too large to compute")
                if kv < 0 or (nv >= 0 and kv > nv):
                    return 0
                return (math.comb(int(nv), int(kv)) if nv >= 0 else
                        int(sympy.binomial(int(nv), int(kv))))
            return binom
        if isinstance(e, sympy.factorial):
            n = self._compile(e.args[0])
            def fact(inst: Instance, b: dict) -> Fraction:
                v = n(inst, b)
                if v.denominator == 1 and v < 0:
                    raise Undefined("factorial of a negative integer")
                if v.denominator != 1 or v > MAX_FACTORIAL:
                    raise Declined("factorial not computed here")
                return math.factorial(int(v))
            return fact
        if isinstance(e, sympy.KroneckerDelta):
            i, j = self._compile(e.args[0]), self._compile(e.args[1])
            return lambda inst, b: int(i(inst, b) == j(inst, b))
        if isinstance(e, sympy.Indexed):
            base = str(e.base.label)
            idx = [self._compile(i) for i in e.indices]
            return lambda inst, b: inst.indexed(base, tuple(i(inst, b) for i in idx))
        if isinstance(e, (sympy.Sum, sympy.Product)):
            return self._sum(e)
        if isinstance(e, sympy.Derivative):
            return self._derivative(e)
        if isinstance(e, AppliedUndef):
            # an undefined function F(h) is an arbitrary function: random values per argument
            fname = f"{e.func.__name__}()"
            fargs = [self._compile(a) for a in e.args]
            return lambda inst, b: inst.indexed(fname, tuple(a(inst, b) for a in fargs))
        if isinstance(e, _TRANSCENDENTAL) and len(e.args) == 1:
            return self._transcendental(e)
        if isinstance(e, sympy.Piecewise):
            pieces = [(self._compile(v), self.compile_bool(c)) for v, c in e.args]
            def piecewise(inst: Instance, b: dict) -> Fraction:
                for v, c in pieces:
                    if c(inst, b):
                        return v(inst, b)
                raise Undefined("no piece applies")
            return piecewise
        if e is sympy.S.NaN or e is sympy.S.ComplexInfinity or e.is_infinite:
            return lambda inst, b: (_ for _ in ()).throw(Undefined("not finite"))
        if e.is_number:
            raise_inexact = e.is_rational is not True
            if raise_inexact:
                return lambda inst, b: (_ for _ in ()).throw(Inexact())
        return self._fallback(e)

    def compile_bool(self, c: Any) -> Callable[[Instance, dict], bool]:
        if c is sympy.true or c is True:
            return lambda inst, b: True
        if c is sympy.false or c is False:
            return lambda inst, b: False
        if isinstance(c, sympy.And):
            parts = [self.compile_bool(a) for a in c.args]
            return lambda inst, b: all(p(inst, b) for p in parts)
        if isinstance(c, sympy.Or):
            parts = [self.compile_bool(a) for a in c.args]
            return lambda inst, b: any(p(inst, b) for p in parts)
        if isinstance(c, sympy.Not):
            p = self.compile_bool(c.args[0])
            return lambda inst, b: not p(inst, b)
        ops = {sympy.Eq: lambda x, y: x == y, sympy.Ne: lambda x, y: x != y,
               sympy.Lt: lambda x, y: x < y, sympy.Le: lambda x, y: x <= y,
               sympy.Gt: lambda x, y: x > y, sympy.Ge: lambda x, y: x >= y}
        for kind, op in ops.items():
            if isinstance(c, kind):
                lhs, rhs = self._compile(c.lhs), self._compile(c.rhs)
                return lambda inst, b, op=op: op(lhs(inst, b), rhs(inst, b))
        return lambda inst, b: (_ for _ in ()).throw(Declined(f"condition {c}"))

    def _sum(self, e: Any) -> Compiled:
        body = self._compile(e.function)
        # SymPy's first limit is the innermost sum: loop over them from the last one in
        limits = [(str(v), self._compile(lo), self._compile(hi)) for v, lo, hi in reversed(e.limits)]
        is_sum = isinstance(e, sympy.Sum)

        def run(inst: Instance, b: dict, k: int = 0) -> Fraction:
            if k == len(limits):
                return body(inst, b)
            name, lo, hi = limits[k]
            lv, hv = lo(inst, b), hi(inst, b)
            if lv.denominator != 1 or hv.denominator != 1:
                raise Declined("non-integer sum limits")
            if hv - lv > MAX_SUM_TERMS:
                raise Declined("sum too long to expand")
            acc: Any = 0 if is_sum else 1
            inner = dict(b)
            for j in range(int(lv), int(hv) + 1):   # empty when hv < lv: 0 or 1
                inner[name] = j
                if is_sum:
                    acc += run(inst, inner, k + 1)
                else:
                    acc *= run(inst, inner, k + 1)
            return acc
        return run

    def _derivative(self, e: Any) -> Compiled:
        """A derivative at a point, exactly.  By an array entry ``X[a]`` of an expression
        polynomial in ``X`` of degree ``d``: ``d + 1`` evaluations with that entry moved
        give the derivative exactly (the polynomial through them is the expression).
        Otherwise: fix the sizes and indices to the point's values, which makes every sum
        finite, expand and differentiate with SymPy.  Either way the arrays are the
        instance's random entries, the same as the other side of the claim reads."""
        (var, count), = e.variable_count if len(e.variable_count) == 1 else ((None, 0),)
        if isinstance(var, sympy.Indexed) and count == 1:
            degree = _degree_in(e.expr, var.base)
            if degree is not None:
                return self._derivative_by_entry(e.expr, var, degree)
        return self._derivative_expanded(e)

    def _derivative_by_entry(self, expr: Any, var: sympy.Indexed, degree: int) -> Compiled:
        body = self._compile(expr)
        base = str(var.base.label)
        idx = [self._compile(i) for i in var.indices]
        # P'(0) = sum_j weights[j] * P(j) for a polynomial P of degree <= ``degree``
        weights = _derivative_weights(degree)

        def derivative(inst: Instance, b: dict) -> Fraction:
            at = tuple(i(inst, b) for i in idx)
            start = inst.indexed(base, at)
            table = inst.arrays[base]
            total: Any = 0
            try:
                for j, weight in enumerate(weights):
                    table[at] = start + j
                    total += weight * body(inst, b)
            finally:
                table[at] = start
            return total
        return derivative

    def _derivative_expanded(self, e: Any) -> Compiled:
        wrt = {v for v, _ in e.variable_count if isinstance(v, sympy.Symbol)}
        labels = {b.label for b in e.atoms(sympy.IndexedBase)}
        names = sorted((s for s in e.free_symbols
                        if isinstance(s, sympy.Symbol) and s not in wrt and s not in labels),
                       key=lambda s: s.name)
        done: dict[tuple, Compiled] = {}    # the expansion depends on the sizes only

        def derivative(inst: Instance, b: dict) -> Fraction:
            values = []
            for s in names:
                v = b.get(s.name, inst.values.get(s.name))
                if v is None:
                    raise Declined(f"no value for {s.name}")
                values.append(v)
            key = tuple(values)
            if key not in done:
                fixed = e.xreplace({s: sympy.Rational(v.numerator, v.denominator)
                                    for s, v in zip(names, values)})
                if _expanded_terms(fixed) > MAX_SUM_TERMS:
                    raise Declined("sum too long to expand")
                # sums written out by hand: SymPy's own summation of KroneckerDelta
                # products can be wrong (Sum(KroneckerDelta(1, i + 2*u), (u, 0, 1),
                # (i, 0, 1)).doit() gives 2)
                value = sympy.Derivative(_write_out(fixed.expr), *fixed.variable_count).doit()
                if value.has(sympy.Derivative, sympy.Sum, sympy.Product):
                    raise Declined("derivative not evaluated")
                done[key] = self._compile(value)
            return done[key](inst, b)
        return derivative

    def _transcendental(self, e: Any) -> Compiled:
        """exp, log, sin, cos, tan of an exact value.  Their values at a rational argument are
        irrational except at the points below (Lindemann-Weierstrass), so every other point
        is :class:`Inexact` at once, for interval arithmetic to compare, without asking SymPy
        to evaluate it first."""
        arg = self._compile(e.args[0])
        exact = _EXACT_AT[type(e)]

        def value(inst: Instance, b: dict) -> Fraction:
            v = arg(inst, b)
            if v in exact:
                got = exact[v]
                if got is None:
                    raise Undefined("not finite")
                return got
            raise Inexact()
        return value

    def _fallback(self, e: Any) -> Compiled:
        syms = sorted(e.free_symbols, key=lambda s: s.name)

        def slow(inst: Instance, b: dict) -> Fraction:
            env = {}
            for s in syms:
                v = b.get(s.name, inst.values.get(s.name))
                if v is None:
                    raise Declined(f"no value for {s.name}")
                env[s] = sympy.Rational(v.numerator, v.denominator)
            with sympy.evaluate(False):    # else SymPy sums a constant range by Karr's rule
                val = e.xreplace(env)
            try:
                val = _write_out(val).doit()
            except (ArithmeticError, ValueError, TypeError) as exc:
                raise Declined(f"SymPy could not evaluate it ({type(exc).__name__})") from None
            if val.has(sympy.nan, sympy.zoo) or val.is_infinite:
                raise Undefined("not finite")
            if val.is_Rational:
                return Fraction(int(val.p), int(val.q))
            if val.is_number:
                raise Inexact()
            raise Declined(f"cannot evaluate {type(e).__name__}")
        return slow


def _degree_in(e: Any, base: sympy.IndexedBase) -> int | None:
    """Degree of ``e`` as a polynomial in the entries of ``base``; ``None`` if it is not
    one (the array under a floor, in a condition, a divisor, a sum's limit...)."""
    if not e.has(base):
        return 0
    if isinstance(e, sympy.Indexed):
        return 1 if e.base == base and not any(i.has(base) for i in e.indices) else None
    if isinstance(e, sympy.Add):
        parts = [_degree_in(a, base) for a in e.args]
        return None if None in parts else max(parts)
    if isinstance(e, sympy.Mul):
        parts = [_degree_in(a, base) for a in e.args]
        return None if None in parts else sum(parts)
    if isinstance(e, sympy.Pow) and e.exp.is_Integer and e.exp >= 0:
        inner = _degree_in(e.base, base)
        return None if inner is None else inner * int(e.exp)
    if isinstance(e, sympy.Sum) and not any(lo.has(base) or hi.has(base)
                                            for _, lo, hi in e.limits):
        return _degree_in(e.function, base)
    return None


def _derivative_weights(degree: int) -> list[Fraction]:
    """Weights ``c_j`` with ``P'(0) = sum_j c_j P(j)`` for every polynomial of degree at
    most ``degree`` (the derivative at 0 of the Lagrange basis on the nodes 0..degree).

    >>> _derivative_weights(1), _derivative_weights(2)
    ([Fraction(-1, 1), Fraction(1, 1)], [Fraction(-3, 2), Fraction(2, 1), Fraction(-1, 2)])
    """
    nodes = range(max(degree, 1) + 1)
    weights = []
    for j in nodes:
        # l_j(t) = prod_{k != j} (t - k) / (j - k);  l_j'(0) = sum_m prod_{k != j, m} (-k) / ...
        denom = math.prod(Fraction(j - k) for k in nodes if k != j)
        slope = Fraction(0)
        for m_ in nodes:
            if m_ != j:
                slope += math.prod((Fraction(-k) for k in nodes if k not in (j, m_)),
                                   start=Fraction(1))
        weights.append(slope / denom)
    return weights


def _write_out(e: Any) -> Any:
    """``e`` with every sum and product over integer limits written out term by term (no
    summation algorithm), with the usual convention for empty ranges, as :meth:`_sum`.

    >>> k = sympy.Symbol("k", integer=True)
    >>> _write_out(sympy.Sum(k, (k, 5, 3))), _write_out(sympy.Product(k, (k, 2, 4)))
    (0, 24)
    """
    if not isinstance(e, sympy.Basic) or not e.has(sympy.Sum, sympy.Product):
        return e
    if isinstance(e, (sympy.Sum, sympy.Product)):
        is_sum = isinstance(e, sympy.Sum)
        *inner, (var, lo, hi) = e.limits            # the last limit is the outermost
        body = type(e)(e.function, *inner) if inner else e.function
        if not (lo.is_Integer and hi.is_Integer):
            raise Declined("sum limits are not integers at this point")
        if int(hi) - int(lo) > MAX_SUM_TERMS:
            raise Declined("sum too long to expand")
        # an inner sum may bind the same name again (Sum(Sum(j, (j, 1, j + 1)), (j, ...)):
        # then only the free occurrences are replaced, which subs knows and xreplace not
        shadows = any(var in t.variables for t in body.atoms(sympy.Sum, sympy.Product))
        terms = [_write_out(body.subs(var, sympy.Integer(k)) if shadows else
                            body.xreplace({var: sympy.Integer(k)}))
                 for k in range(int(lo), int(hi) + 1)]
        return sympy.Add(*terms) if is_sum else sympy.Mul(*terms)
    return e.func(*[_write_out(a) for a in e.args])


def _check_power_size(base: Fraction, exp: Any) -> None:
    """Decline a power whose exact value would be huge (it decides nothing either way)."""
    if base in (0, 1, -1):
        return
    bits = max(abs(base.numerator).bit_length(), base.denominator.bit_length())
    if bits * abs(int(exp)) > MAX_RESULT_BITS:
        raise Declined("power too large to compute")


def _expanded_terms(e: Any) -> int:
    """Terms that expanding the sums and products of ``e`` writes out (nested limits that
    depend on outer indices are counted at their widest constant width, or as 1)."""
    total = 1
    for node in e.atoms(sympy.Sum, sympy.Product):
        width = 1
        for _, lo, hi in node.limits:
            n = hi - lo + 1
            width *= max(int(n), 0) if n.is_Integer else 1
        total = max(total, width * _expanded_terms(node.function))
    return total


def _exact_root(v: Fraction, n: int) -> Fraction | None:
    num = round(v.numerator ** (1.0 / n)) if v.numerator < 2 ** 1000 else None
    den = round(v.denominator ** (1.0 / n)) if v.denominator < 2 ** 1000 else None
    if num is None or den is None:
        return None
    for a in (num - 1, num, num + 1):
        for c in (den - 1, den, den + 1):
            if a >= 0 and c > 0 and Fraction(a, c) ** n == v:
                return Fraction(a, c)
    return None
