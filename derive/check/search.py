"""Counterexample search: small values first, then seeded random ones.

Most convolution mistakes show at tiny sizes (an off-by-one at H=1, a dropped floor at
S=2), so every search starts with an exhaustive box of the smallest values of each symbol's
domain and then moves to larger random values.  The generator is seeded by the claim's
text, so a run is repeatable.
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
from derive.check.evaluate import Inexact, Instance, Undefined, compile_expr, numeric_value

BOX_POINTS = 256        # size of the exhaustive small-value box
RANDOM_POINTS = 96      # random instances after the box
ARRAY_DRAWS = 64        # instances at least for claims over indexed names / undefined functions
RANDOM_SCALES = (3, 6, 12, 40, 200)   # random offsets above a symbol's lower bound
SUM_RANDOM_SCALES = (1, 2, 2, 3)      # the same, when a sum or product has symbolic limits
REAL_SMALL = [Fraction(0), Fraction(1), Fraction(-1), Fraction(1, 2), Fraction(-3, 2),
              Fraction(7, 3), Fraction(5, 2), Fraction(-2, 7)]
REL_TOL = sympy.Rational(1, 10 ** 12)


@dataclass
class SearchResult:
    counterexample: dict[str, Any] | None = None
    lhs_value: Any = None
    rhs_value: Any = None
    instances: int = 0          # instances where both sides were evaluated and compared
    skipped: int = 0            # instances outside where both sides are defined
    inexact: bool = False       # some comparison needed a numeric tolerance
    exhaustive: bool = False    # the domain is finite and every point was compared


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
    scale = rng.choice(scales)
    if not d.integer:
        v = Fraction(rng.randint(-scale * 8, scale * 8), rng.choice([1, 2, 3, 4, 7, 8]))
        lo = d.lower if d.lower is not None else None
        if lo is not None and v < lo:
            v = lo + abs(v) + (Fraction(1, 3) if d.strict_lower else 0)
        if d.upper is not None and v > d.upper:
            v = d.upper - Fraction(rng.randint(0, 7), 3) - (Fraction(1, 5) if d.strict_upper else 0)
        return v
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
        yield {x: _random_value(domain.of(x), rng, scales) for x in names}


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


def _satisfies(constraints: Sequence[Any], compiled: Sequence[Any], inst: Instance) -> bool:
    for c in compiled:
        try:
            if not c(inst, {}):
                return False
        except (Undefined, Inexact, ZeroDivisionError):
            return False
    return True


def search(lhs: Any, rhs: Any, names: Sequence[str], domain: Domain, *, seed: str,
           deadline: Deadline | None = None, random_points: int = RANDOM_POINTS) -> SearchResult:
    """Compare both sides over candidate points; stop at the first disagreement."""
    from derive.check.evaluate import _Compiler

    comp = _Compiler()
    f, g = comp.compile(lhs), comp.compile(rhs)
    constraints = [comp.compile_bool(c) for c in domain.constraints]
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
    for k, point in enumerate(points):
        key = tuple(point[x] for x in names)
        if key in seen:
            continue
        seen.add(key)
        if deadline is not None and k % 16 == 0:
            deadline.check()
        outcome = _compare(f, g, lhs, rhs, domain, constraints, point, f"{seed}|{key}", result)
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
                if _compare(f, g, lhs, rhs, domain, constraints, point,
                            f"{seed}|{key}|draw {draw}", result):
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


def _compare(f: Any, g: Any, lhs: Any, rhs: Any, domain: Domain, constraints: Sequence[Any],
             point: dict[str, Fraction], rng_seed: str, result: SearchResult) -> bool | None:
    """Compare both sides at one point: None outside the constraints, True (with the
    counterexample recorded in ``result``) when the sides differ, else False."""
    inst = Instance(point, random.Random(rng_seed))
    if not _satisfies(domain.constraints, constraints, inst):
        return None
    try:
        a = f(inst, {})
        b = g(inst, {})
    except (Undefined, ZeroDivisionError, OverflowError):
        result.skipped += 1
        return False
    except Inexact:
        a, b = numeric_value(lhs, inst), numeric_value(rhs, inst)
        result.inexact = True
        if not (a.is_number and b.is_number) or a.has(sympy.nan, sympy.zoo) or b.has(
                sympy.nan, sympy.zoo):
            result.skipped += 1
            return False
        scale = max(abs(a), abs(b), 1)
        result.instances += 1
        if abs(a - b) > REL_TOL * scale:
            result.counterexample, result.lhs_value, result.rhs_value = inst.report(), a, b
            return True
        return False
    result.instances += 1
    if a != b:
        result.counterexample = inst.report()
        result.lhs_value, result.rhs_value = _num(a), _num(b)
        return True
    return False


def _num(v: Fraction) -> Any:
    return int(v) if v.denominator == 1 else sympy.Rational(v.numerator, v.denominator)


def _product_len(lists: Sequence[Any]) -> int:
    n = 1
    for v in lists:
        n *= len(v)
    return n
