"""Counterexample search: small values first, then seeded random ones.

Most convolution mistakes show at tiny sizes (an off-by-one at H=1, a dropped floor at
S=2), so every search starts with an exhaustive box of the smallest values of each symbol's
domain and then moves to larger random values.  The generator is seeded by the claim's
text, so a run is repeatable.

Soundness rules kept here: every point compared lies inside the domain (each symbol's
range and kind, and every relation among symbols); a side that is *undefined* at a point
(a zero divisor, ``Mod(a, 0)``, or a recorded divisor that is zero there) makes that point
a counterexample; a point the evaluator *declined* (too large to compute) or could not
decide numerically is counted as such and never as an agreeing instance; numeric
comparisons are rigorous (:mod:`derive.check.interval`).
"""

from __future__ import annotations

import hashlib
import itertools
import random
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Iterator, Sequence

import sympy

from derive.check.budget import Deadline
from derive.check.domain import Domain, SymbolDomain
from derive.check.evaluate import Declined, Inexact, Instance, Undefined

BOX_POINTS = 256        # size of the exhaustive small-value box
RANDOM_POINTS = 96      # random instances after the box
ARRAY_DRAWS = 64        # instances at least for claims over indexed names / undefined functions
RANDOM_SCALES = (3, 6, 12, 40, 200)   # random offsets above a symbol's lower bound
SUM_RANDOM_SCALES = (1, 2, 2, 3)      # the same, when a sum or product has symbolic limits
REAL_SMALL = [Fraction(0), Fraction(1), Fraction(-1), Fraction(1, 2), Fraction(-3, 2),
              Fraction(7, 3), Fraction(5, 2), Fraction(-2, 7)]
UNDEFINED = "undefined"     # the value shown for a side that has none at a point


@dataclass
class SearchResult:
    counterexample: dict[str, Any] | None = None
    lhs_value: Any = None
    rhs_value: Any = None
    undefined: str = ""         # why a side is undefined at the counterexample, if it is
    numeric: bool = False       # the counterexample was found by interval arithmetic
    instances: int = 0          # points where both sides were evaluated and compared
    declined: int = 0           # points the evaluator did not compute or could not decide
    in_domain: int = 0          # points inside the domain that were tried
    inexact: bool = False       # some agreement rests on a numeric comparison
    exhaustive: bool = False    # the domain is finite and every point was tried
    rewritten: bool = False     # SymPy's rebuilt sides differ from the given ones somewhere
    instance: Instance | None = None   # the counterexample's point with its array draws

    @property
    def complete(self) -> bool:
        """Every point of a finite domain compared exactly: a proof by exhaustion."""
        return self.exhaustive and self.declined == 0 and not self.inexact


def _small_values(d: SymbolDomain, count: int) -> list[Fraction]:
    if not d.integer:
        vals = [v for v in REAL_SMALL if d.contains(v)]
        if d.lower is not None:
            vals += [d.lower + Fraction(k, 2) for k in range(1, 5)]
        return [v for v in dict.fromkeys(vals) if d.contains(v)][:count]
    start = int(sympy.ceiling(d.lower)) if d.lower is not None else (
        int(sympy.floor(d.upper)) - count + 1 if d.upper is not None else 0)
    out: list[Fraction] = []
    if d.lower is None and d.upper is None:
        cands = [0, 1, -1, 2, -2, 3, -3, 4, -4, 5]
    else:
        cands = list(range(start, start + 4 * count + 4))
    for v in cands:
        if d.contains(Fraction(v)):
            out.append(Fraction(v))
        if len(out) == count:
            break
    return out


def _random_value(d: SymbolDomain, rng: random.Random,
                  scales: Sequence[int] = RANDOM_SCALES) -> Fraction:
    """A random value of the domain (callers still test membership: parity or strict
    bounds may push a draw out, and such a draw is dropped, never used)."""
    scale = rng.choice(scales)
    if not d.integer:
        den = rng.choice([1, 2, 3, 4, 7, 8])
        if d.lower is not None and d.upper is not None:
            return d.lower + (d.upper - d.lower) * Fraction(rng.randint(0, 8 * den), 8 * den)
        if d.lower is not None:
            return d.lower + Fraction(rng.randint(0, scale * 8), den)
        if d.upper is not None:
            return d.upper - Fraction(rng.randint(0, scale * 8), den)
        return Fraction(rng.randint(-scale * 8, scale * 8), den)
    if d.lower is not None and d.upper is not None:
        lo, hi = int(sympy.ceiling(d.lower)), int(sympy.floor(d.upper))
        v = rng.randint(lo, hi) if hi >= lo else lo
    elif d.lower is not None:
        v = int(sympy.ceiling(d.lower)) + rng.randint(0, scale)
    elif d.upper is not None:
        v = int(sympy.floor(d.upper)) - rng.randint(0, scale)
    else:
        v = rng.randint(-scale, scale)
    if d.parity is not None and v % 2 != d.parity:
        v += 1 if (d.upper is None or v + 1 <= d.upper) else -1
    return Fraction(v)


def in_domain(domain: Domain, point: dict[str, Fraction]) -> bool:
    """Whether ``point`` gives every symbol of the domain a value inside its range and
    kind (the relations among symbols are tested separately, by the compiled
    constraints).

    >>> from derive.check.domain import build_domain
    >>> d = build_domain(["x"], ["x real", "x >= 0", "x < 1"])
    >>> in_domain(d, {"x": Fraction(-1, 5)}), in_domain(d, {"x": Fraction(1, 2)})
    (False, True)
    """
    return all(name in point and domain.of(name).contains(point[name])
               for name in domain.symbols) and all(
        domain.of(name).contains(v) for name, v in point.items())


def candidate_points(names: Sequence[str], domain: Domain, seed: str,
                     random_points: int = RANDOM_POINTS, *,
                     small: bool = False) -> Iterator[dict[str, Fraction]]:
    """Small-value box first (all combinations), then random points (kept small with
    ``small``: for sums with symbolic limits, whose cost is the product of their ranges)."""
    if not names:
        yield {}
        return
    n = len(names)
    per = 2
    while (per + 1) ** n <= BOX_POINTS and per < 8:
        per += 1
    grids = [_small_values(domain.of(x), per) for x in names]
    # Small first: combinations of grid positions by total size, then lexicographically.
    for combo in itertools.islice(box_order([len(g) for g in grids]), BOX_POINTS):
        yield {x: grids[i][j] for i, (x, j) in enumerate(zip(names, combo))}
    rng = random.Random(hashlib.sha256(seed.encode()).hexdigest())
    scales = SUM_RANDOM_SCALES if small else RANDOM_SCALES
    for _ in range(random_points):
        point = {x: _random_value(domain.of(x), rng, scales) for x in names}
        if all(domain.of(x).contains(v) for x, v in point.items()):
            yield point


def box_order(sizes: Sequence[int]) -> Iterator[tuple[int, ...]]:
    """Every tuple of positions ``t`` with ``0 <= t[i] < sizes[i]``, ordered by ``sum(t)``
    and then lexicographically, made lazily: a claim with 80 symbols has 2**80 tuples, of
    which the search takes the first few hundred.

    >>> list(box_order([2, 3]))
    [(0, 0), (0, 1), (1, 0), (0, 2), (1, 1), (1, 2)]
    """
    caps = [max(k - 1, 0) for k in sizes]
    room = [sum(caps[i:]) for i in range(len(caps))] + [0]   # the most the tail can hold
    if any(k <= 0 for k in sizes):
        return

    def fill(i: int, total: int) -> Iterator[tuple[int, ...]]:
        if i == len(caps):
            yield ()
            return
        for v in range(max(0, total - room[i + 1]), min(caps[i], total) + 1):
            for rest in fill(i + 1, total - v):
                yield (v, *rest)

    for total in range(room[0] + 1):
        yield from fill(0, total)


def _satisfies(compiled: Sequence[Any], inst: Instance) -> bool:
    for c in compiled:
        try:
            if not c(inst, {}):
                return False
        except (Undefined, Declined, Inexact, ZeroDivisionError):
            return False
    return True


def search(lhs: Any, rhs: Any, names: Sequence[str], domain: Domain, *, seed: str,
           deadline: Deadline | None = None, random_points: int = RANDOM_POINTS,
           divisors: Sequence[tuple[Any, int]] = (),
           original: tuple[Any, Any] | None = None) -> SearchResult:
    """Compare both sides over candidate points; stop at the first disagreement or at the
    first point where a side is undefined.  ``divisors`` lists what each side divides by
    (side 0 or 1), which must not vanish for it to be defined (even where SymPy cancelled
    them: ``x/x``).  With ``original`` (the sides as given, on plain symbols), those are
    what is compared, and ``lhs``/``rhs`` (SymPy's rebuild on the domain's symbols, which
    the proof strategies use) are checked against them at every point."""
    from derive.check.evaluate import _Compiler

    comp = _Compiler()
    rebuilt = None
    if original is not None:
        rebuilt = (comp.compile(lhs), comp.compile(rhs))
        lhs, rhs = original
    f, g = comp.compile(lhs), comp.compile(rhs)
    constraints = [comp.compile_bool(c) for c in domain.constraints]
    known = set(names)
    guards = [(comp.compile(c), c, side) for c, side in divisors
              if {s.name for s in c.free_symbols} <= known]
    result = SearchResult()
    finite = [domain.of(x).finite_values for x in names]
    points: Any
    if names and all(v is not None for v in finite) and _product_len(finite) <= 5000:
        points = ({x: Fraction(v) for x, v in zip(names, combo)}
                  for combo in itertools.product(*finite))  # type: ignore[arg-type]
        result.exhaustive = True
    else:
        points = candidate_points(names, domain, seed, random_points,
                                  small=_symbolic_sums(lhs, rhs))
    seen: set[tuple] = set()
    valid: list[dict[str, Fraction]] = []   # points inside the constraints
    sides = _Sides(f, g, lhs, rhs, guards, rebuilt)
    for k, point in enumerate(points):
        key = tuple(point[x] for x in names)
        if key in seen or not in_domain(domain, point):
            continue
        seen.add(key)
        if deadline is not None and k % 16 == 0:
            deadline.check()
        outcome = sides.compare(constraints, point, f"{seed}|{key}", result)
        if outcome:
            return result
        if outcome is not None:
            valid.append(point)
    # Entries of indexed names (and values of undefined functions) are drawn at random per
    # point; when there are few distinct points (no scalar symbols, a small finite domain),
    # draw them again so that a cancellation by chance (an entry 0) cannot hide a mistake.
    if valid and result.instances < ARRAY_DRAWS and _has_arrays(lhs, rhs):
        for draw in range(1, ARRAY_DRAWS):
            for point in valid:
                if result.instances >= ARRAY_DRAWS:
                    return result
                if deadline is not None:
                    deadline.check()
                key = tuple(point[x] for x in names)
                if sides.compare(constraints, point, f"{seed}|{key}|draw {draw}", result,
                                 again=True):
                    return result
    return result


def _symbolic_sums(*exprs: Any) -> bool:
    """Whether a sum or product has a limit that depends on the claim's symbols."""
    return any(isinstance(e, sympy.Basic) and any(
        not b.is_number for s in e.atoms(sympy.Sum, sympy.Product) for lim in s.limits
        for b in lim[1:]) for e in exprs)


def _has_arrays(*exprs: Any) -> bool:
    """Whether an expression reads indexed names or undefined functions (drawn at random)."""
    from sympy.core.function import AppliedUndef
    return any(isinstance(e, sympy.Basic) and (e.has(sympy.Indexed) or bool(e.atoms(AppliedUndef)))
               for e in exprs)


class _Undef:
    """A side with no value at a point, and why."""

    def __init__(self, why: str) -> None:
        self.why = why


_INEXACT = object()
_DECLINED = object()


class _Sides:
    """Both sides of a claim, compiled, with the divisors that must not vanish."""

    def __init__(self, f: Any, g: Any, lhs: Any, rhs: Any,
                 guards: Sequence[tuple[Any, Any, int]], rebuilt: Any = None) -> None:
        self.f, self.g, self.lhs, self.rhs, self.guards = f, g, lhs, rhs, guards
        self.rebuilt = rebuilt
        # the same expression on both sides has the same value: evaluated once
        self.same = isinstance(lhs, sympy.Basic) and lhs == rhs

    def compare(self, constraints: Sequence[Any], point: dict[str, Fraction], rng_seed: str,
                result: SearchResult, again: bool = False) -> bool | None:
        """Compare both sides at one point: None outside the constraints, True (with the
        counterexample recorded in ``result``) when the sides differ or one is undefined,
        else False."""
        inst = Instance(point, random.Random(rng_seed))
        if not _satisfies(constraints, inst):
            return None
        if not again:
            result.in_domain += 1
        a = _value(self.f, inst)
        b = a if self.same else _value(self.g, inst)
        for guard, expr, side in self.guards:
            v = _value(guard, inst)
            if (isinstance(v, Fraction) and v == 0) or isinstance(v, _Undef):
                why = (f"the divisor {_divisor_text(expr)} is 0 there"
                       if isinstance(v, Fraction) else v.why)
                if side == 0:
                    a = _Undef(why)
                else:
                    b = _Undef(why)
        if isinstance(a, _Undef) or isinstance(b, _Undef):
            why = a.why if isinstance(a, _Undef) else b.why  # type: ignore[union-attr]
            return _record(result, inst, _side_shown(a, self.lhs, inst),
                           _side_shown(b, self.rhs, inst), why)
        if a is _DECLINED or b is _DECLINED:
            result.declined += 1
            return False
        if a is _INEXACT or b is _INEXACT:
            from derive.check.interval import compare
            got = compare(self.lhs, self.rhs, inst)
            if got.kind == "inconclusive":
                result.declined += 1
                return False
            if got.kind == "undefined":
                return _record(result, inst, got.lhs, got.rhs, "a side has no real value")
            if got.kind == "differ":
                result.numeric = True
                return _record(result, inst, got.lhs, got.rhs, "")
            result.inexact = True
            result.instances += 1
            return False
        result.instances += 1
        if self.rebuilt is not None and not result.rewritten:
            again = [_value(fn, inst) for fn in self.rebuilt]
            if any(isinstance(v, (Fraction, _Undef)) and v != w
                   for v, w in zip(again, (a, b))):
                result.rewritten = True
        if a != b:
            return _record(result, inst, _num(a), _num(b), "")  # type: ignore[arg-type]
        return False


def _value(fn: Any, inst: Instance) -> Any:
    try:
        return fn(inst, {})
    except (Undefined, ZeroDivisionError) as exc:
        return _Undef(str(exc) or "division by zero")
    except Inexact:
        return _INEXACT
    except (Declined, OverflowError):
        return _DECLINED


def _side_shown(v: Any, expr: Any, inst: Instance) -> Any:
    """A side's value as reported next to an undefined other side."""
    if isinstance(v, _Undef):
        return UNDEFINED
    if isinstance(v, Fraction):
        return _num(v)
    if v is _INEXACT:
        from derive.check.interval import compare
        got = compare(expr, expr, inst)
        return got.lhs or "not evaluated"
    return "not evaluated"


def _divisor_text(expr: Any) -> str:
    if isinstance(expr, sympy.Product):     # a divisor inside sums: name the term
        ranges = ", ".join(f"{v} = {lo}..{hi}" for v, lo, hi in expr.limits)
        return f"{sympy.sstr(expr.function)} (for some {ranges})"
    return sympy.sstr(expr)


def _record(result: SearchResult, inst: Instance, lhs: Any, rhs: Any, undefined: str) -> bool:
    result.counterexample, result.lhs_value, result.rhs_value = inst.report(), lhs, rhs
    result.undefined, result.instance = undefined, inst
    return True


def _num(v: Fraction) -> Any:
    return int(v) if v.denominator == 1 else sympy.Rational(v.numerator, v.denominator)


def _product_len(lists: Sequence[Any]) -> int:
    n = 1
    for v in lists:
        n *= len(v)
    return n
