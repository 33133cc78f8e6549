"""Mutation testing of the book: every checked step, perturbed the way people err, re-checked.

For every symbolic step of every problem (a derivation step ``previous == step`` under the
derivation's assumptions, or a ``Check`` of kind ``"claim"``), the right-hand side is
mutated by :mod:`derive.check.mutate` and the mutant is checked again by the checker with a
small budget.  Whether a mutant is *actually* false is decided independently of the checker
by a brute-force judge written here: both sides are evaluated with SymPy's exact arithmetic
(``xreplace`` + ``doit``) on a grid of small values of the domain, with random integer
arrays (hashed from the point) for indexed names and random matrices for operators.  The
judge imports nothing from the checker's search or evaluator; it reads the assumptions with
:func:`derive.check.domain.build_domain`, which defines what the domain *is*.

Outcomes of a mutant:

* **equivalent**: the judge finds no point where the sides differ; excluded and counted;
* **killed**: judged false and refuted by the checker (and the checker's counterexample is
  confirmed by the judge);
* **survivor**: judged false but only tested (or unknown): listed with the reason;
* **unsound**: judged false and proved: the test fails.

The slow test writes ``build/mutation-report.json`` and prints a summary.  Budget (2 cores):
at most ``MUTANTS_PER_STEP`` mutants per step, sampled deterministically across operator
families, ``CHECK_BUDGET`` seconds per check; ``JOBS`` worker processes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator, Sequence

import pytest
import sympy
from sympy.core.function import AppliedUndef

from derive.check.domain import build_domain
from derive.check.engine import check_exprs
from derive.check.mutate import OPERATORS, family, is_stride_name, mutants, sample
from derive.check.verdict import Status

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "build" / "mutation-report.json"
MUTANTS_PER_STEP = 6          # mutants checked per step (sampled over the families)
CHECK_BUDGET = 2.0            # seconds the checker gets per mutant
JUDGE_BOX = 32                # first points: every symbol at its lowest value or one above
JUDGE_POINTS = 120            # grid points per step (light expressions), box included
JUDGE_POINTS_HEAVY = 72       # grid points per step with symbolic sums or derivatives
JUDGE_SECONDS = 12.0          # a mutant judged longer than this stops at the next point
JOBS = int(os.environ.get("DERIVE_MUTATION_JOBS", min(2, os.cpu_count() or 1)))
ARRAY_RANGE = 50              # entries of indexed arrays are integers in [-50, 50]
_HEAVY = (sympy.Sum, sympy.Product, sympy.Derivative, sympy.Integral)
_SPECIAL_EVAL = (sympy.Sum, sympy.Product, sympy.Derivative, sympy.Integral, sympy.Subs)


# ---------------------------------------------------------------------------------------
# The judge: brute force with SymPy, independent of the checker's search and evaluator


class Undefined(Exception):
    """The expression has no finite value at this point."""


class Unevaluable(Exception):
    """The judge cannot evaluate this expression (it says so instead of guessing)."""


def _names_of(e: Any) -> set[sympy.Symbol]:
    """Number-valued free symbols (not the names of indexed arrays)."""
    if isinstance(e, sympy.MatrixBase):
        out: set = set()
        for entry in e:
            out |= _names_of(entry)
        return out
    if not isinstance(e, sympy.Basic):
        return set()
    labels = {b.label for b in e.atoms(sympy.IndexedBase)}
    found = set(e.free_symbols)
    for d in e.atoms(sympy.Derivative):      # d/dw[u'] : u' is a value too
        for v in d.variables:
            found |= v.free_symbols
    return {s for s in found if isinstance(s, sympy.Symbol) and s not in labels}


def _has(e: Any, kinds: tuple) -> bool:
    if isinstance(e, sympy.MatrixBase):
        return any(_has(x, kinds) for x in e)
    return isinstance(e, sympy.Basic) and e.has(*kinds)


def _heavy(e: Any) -> bool:
    if not _has(e, _HEAVY):
        return False
    if isinstance(e, sympy.MatrixBase):
        return any(_heavy(x) for x in e)
    for s in e.atoms(sympy.Sum, sympy.Product, sympy.Integral):
        for lim in s.limits:
            if any(not b.is_number for b in lim[1:]):
                return True
    return e.has(sympy.Derivative)


def _index_targets(e: Any) -> list[tuple[str, Any, Any]]:
    """``(name, lo, hi)`` for free symbols tied to a summation index ``u`` over ``lo..hi``
    by ``KroneckerDelta(u, name)``, or standing where ``u`` stands in a derivative's
    variable (``d/dw[u']`` of a sum over ``w[u]``)."""
    if not isinstance(e, sympy.Basic) or isinstance(e, sympy.MatrixBase):
        return []
    ranges = {}
    for s in e.atoms(sympy.Sum, sympy.Product):
        for lim in s.limits:
            if len(lim) == 3:
                ranges[lim[0]] = (lim[1], lim[2])
    bound = set(ranges)
    out = []
    for d in e.atoms(sympy.KroneckerDelta):
        for a, b in (d.args, d.args[::-1]):
            if a in ranges and isinstance(b, sympy.Symbol) and b not in bound:
                out.append((b.name, *ranges[a]))
    for der in e.atoms(sympy.Derivative):
        for var in der.variables:
            if not isinstance(var, sympy.Indexed):
                continue
            for use in der.expr.atoms(sympy.Indexed):
                if use.base != var.base:
                    continue
                for i_use, i_var in zip(use.indices, var.indices):
                    if i_use in ranges and isinstance(i_var, sympy.Symbol) and (
                            i_var not in bound):
                        out.append((i_var.name, *ranges[i_use]))
    return sorted(set(out), key=str)


def _hash_int(*parts: Any, spread: int = ARRAY_RANGE) -> int:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") % (2 * spread + 1) - spread


MAX_TERMS = 20_000            # a concrete sum longer than this leaves the point undefined


def _expand(e: Any, budget: list[int] | None = None) -> Any:
    """Concrete sums and products written out term by term (outermost limit first; a
    reversed range is empty: 0 for a sum, 1 for a product, the convention documented in
    docs/soundness.md), then derivatives, integrals and ``Subs``
    evaluated.  SymPy's own ``Sum.doit`` is not used: its delta summation solves for the
    index without checking that the solution is an integer in range."""
    budget = [MAX_TERMS] if budget is None else budget
    if not isinstance(e, sympy.Basic) or e.is_Atom or isinstance(e, sympy.MatrixBase):
        return e
    if isinstance(e, (sympy.Sum, sympy.Product)):
        is_sum = isinstance(e, sympy.Sum)
        *inner_limits, (var, lo, hi) = e.limits
        if not (lo.is_Integer and hi.is_Integer):
            raise Unevaluable(f"sum limits {lo}, {hi} are not integers")
        lo_i, hi_i = int(lo), int(hi)
        values, sign = range(lo_i, hi_i + 1), 1      # empty when hi < lo
        budget[0] -= len(values)
        if budget[0] < 0:
            raise Unevaluable("sum too long to write out")
        terms = []
        for v in values:
            body = e.function.xreplace({var: sympy.Integer(v)})
            if inner_limits:
                inner_limits_v = [tuple(b.xreplace({var: sympy.Integer(v)}) for b in lim)
                                  for lim in inner_limits]
                body = e.func(body, *inner_limits_v)
            terms.append(_expand(body, budget))
        if is_sum:
            total = sympy.Add(*terms)
            return total if sign == 1 else -total
        total = sympy.Mul(*terms)
        return total if sign == 1 else 1 / total
    if isinstance(e, sympy.Derivative):
        return sympy.Derivative(_expand(e.expr, budget), *e.variable_count).doit()
    if isinstance(e, (sympy.Integral, sympy.Subs)):
        return e.doit()
    return e.func(*[_expand(a, budget) for a in e.args])


REALS = [Fraction(-7, 2), Fraction(-2), Fraction(-1), Fraction(-1, 3), Fraction(0),
         Fraction(1, 4), Fraction(1, 2), Fraction(1), Fraction(3, 2), Fraction(2),
         Fraction(7, 3), Fraction(5), Fraction(11, 2), Fraction(13)]


class Judge:
    """Brute-force truth of ``lhs == rhs'`` for one step and all the mutants of its rhs."""

    def __init__(self, lhs: Any, rhs: Any, assume: Sequence[Any], seed: str) -> None:
        self.lhs = lhs
        self.seed = seed
        names = sorted({s.name for s in _names_of(lhs) | _names_of(rhs)})
        self.domain = build_domain(names, assume)
        self.names = sorted(set(names) | set(self.domain.symbols))
        self.operators = sorted({s.name for s in _names_of(lhs) | _names_of(rhs)
                                 if s.is_commutative is False})
        self.heavy = _heavy(lhs) or _heavy(rhs)
        self.targets = _index_targets(lhs) + _index_targets(rhs)
        self.points = self._grid(JUDGE_POINTS_HEAVY if self.heavy else JUDGE_POINTS)
        self._lhs_values: dict[int, Any] = {}
        self.truncated = 0        # verdicts cut short by JUDGE_SECONDS

    # -- the grid ------------------------------------------------------------------------
    def _value(self, name: str, k: int, tries: int) -> Any:
        """A value of ``name`` for point ``k``: the smallest at point 0, then a mixture of
        tiny, small, medium and (for light expressions) large values."""
        d = self.domain.of(name)
        h = abs(_hash_int(self.seed, name, k, tries, spread=10 ** 9))
        if not d.integer:
            cands = [v for v in REALS if d.contains(v)]
            if d.lower is not None:
                cands += [d.lower + Fraction(j, 3) for j in (1, 2, 4, 7)]
            cands = [v for v in cands if d.contains(v)] or [Fraction(1)]
            return cands[h % len(cands)] if k else min(cands, key=abs)
        lo = int(sympy.ceiling(d.lower)) if d.lower is not None else -3
        if d.upper is not None and int(sympy.floor(d.upper)) - lo < 40:
            return Fraction(lo + h % (int(sympy.floor(d.upper)) - lo + 1))
        if k == 0:
            return Fraction(lo)
        mode = abs(_hash_int(self.seed, "mode", k, spread=10 ** 6)) % 10
        # every symbol tiny: index symbols (u' in KroneckerDelta(u, u')) fit their ranges
        widths = (2, 2, 2, 2, 3, 3, 3, 4, 4, 5) if self.heavy else (2, 2, 2, 4, 4, 4, 4,
                                                                     13, 13, 41)
        return Fraction(lo + h % widths[mode])

    def _box(self) -> Iterator[dict[str, Any]]:
        """Every symbol at its lowest value or one above, fewest raised symbols first."""
        import itertools
        scalars = [n for n in self.names if n not in self.operators]
        lows = {}
        for name in scalars:
            d = self.domain.of(name)
            lo = int(sympy.ceiling(d.lower)) if d.integer and d.lower is not None else 0
            lows[name] = [Fraction(v) for v in range(lo, lo + 4)
                          if d.contains(Fraction(v))][:2] or [self._value(name, 0, 0)]
        for raised in range(len(scalars) + 1):
            for chosen in itertools.combinations(scalars, raised):
                yield {n: lows[n][min(len(lows[n]) - 1, int(n in chosen))] for n in scalars}

    def _grid(self, count: int) -> list[dict[str, Any]]:
        points: list[dict[str, Any]] = []
        seen: set[tuple] = set()
        box = self._box()
        for k in range(count * 25):
            if len(points) == count:
                break
            point = next(box, None) if len(points) < JUDGE_BOX else None
            if point is None:
                point = {}
                for name in self.names:
                    if name in self.operators:
                        continue
                    for tries in range(30):
                        v = self._value(name, k, tries)
                        if self.domain.of(name).contains(v):
                            break
                    point[name] = v
                if k % 5 and self.targets:   # most random points: aim the index symbols
                    point = self._aim(point, k)
            key = tuple(sorted(point.items()))
            if key in seen or not self._satisfies(point):
                continue
            seen.add(key)
            for name in self.operators:
                point[name] = sympy.ImmutableMatrix(
                    3, 3, [_hash_int(self.seed, name, k, j, spread=4) for j in range(9)])
            point["#"] = k
            points.append(point)
        return points

    def _aim(self, point: dict[str, Any], k: int) -> dict[str, Any]:
        """Move symbols that a KroneckerDelta (or a derivative's variable) ties to a
        summation index into that index's range at this point, so that the delta fires."""
        point = dict(point)
        for j, (name, lo, hi) in enumerate(self.targets):
            if name not in point:
                continue
            h = abs(_hash_int(self.seed, "aim", k, j, spread=10 ** 6))
            d = self.domain.of(name)
            a, b = self._at(lo, point), self._at(hi, point)
            least = int(sympy.ceiling(d.lower)) if d.lower is not None else None
            if b is not None and least is not None and b < least:
                # the range is below the symbol's domain (u' >= 1 but K = 1): widen it by
                # raising the one symbol its upper end grows with (K in K - 1)
                grow = [x for x in hi.free_symbols if x.name in point]
                slope = sympy.diff(hi, grow[0]) if len(grow) == 1 else None
                if slope is not None and slope.is_Integer and slope > 0:
                    need = -(-(least - b) // int(slope)) + h % 2
                    point[grow[0].name] += need
                    b = self._at(hi, point)
            if a is None or b is None or b < a:
                continue
            if least is not None:
                a = max(a, least)
            if b >= a:
                v = Fraction(a + h % (b - a + 1))
                if d.contains(v):
                    point[name] = v
        return point

    @staticmethod
    def _at(e: Any, point: dict[str, Any]) -> int | None:
        env = {s: sympy.Rational(point[s.name].numerator, point[s.name].denominator)
               for s in e.free_symbols if s.name in point}
        v = e.xreplace(env)
        return int(v) if v.is_Integer else None

    def _satisfies(self, point: dict[str, Any]) -> bool:
        for c in self.domain.constraints:
            env = {s: sympy.Rational(point[s.name].numerator, point[s.name].denominator)
                   for s in c.free_symbols if s.name in point}
            if c.xreplace(env) is not sympy.true:
                return False
        return True

    # -- evaluation ----------------------------------------------------------------------
    def evaluate(self, expr: Any, point: dict[str, Any], arrays: dict | None = None) -> Any:
        """The exact value of ``expr`` at ``point`` (arrays hashed from the point, or taken
        from ``arrays`` when given: a counterexample's entries)."""
        if isinstance(expr, sympy.MatrixBase):
            return sympy.ImmutableMatrix(expr.rows, expr.cols,
                                         [self.evaluate(x, point, arrays) for x in expr])
        if not isinstance(expr, sympy.Basic):
            raise Unevaluable(f"not a SymPy object: {type(expr).__name__}")
        if self.operators and any(s.is_commutative is False for s in _names_of(expr)):
            return self._operator_value(expr, point)
        env = {}
        for s in _names_of(expr):
            v = point.get(s.name)
            if v is None:
                raise Unevaluable(f"no value for {s.name}")
            env[s] = v if isinstance(v, sympy.MatrixBase) else sympy.Rational(
                v.numerator, v.denominator)
        try:
            e = expr.xreplace(env)
            if _has(e, _SPECIAL_EVAL):
                e = _expand(e)
            if isinstance(e, sympy.MatrixExpr):
                e = e.doit()
            e = self._fill(e, point, arrays)
        except (ZeroDivisionError, ValueError, TypeError, ArithmeticError) as exc:
            raise Undefined(str(exc)) from None
        if isinstance(e, sympy.MatrixBase):
            return sympy.ImmutableMatrix(e.rows, e.cols, [self._finite(x) for x in e])
        return self._finite(e)

    def _operator_value(self, e: Any, point: dict[str, Any]) -> Any:
        """Value of an expression in non-commutative symbols: operators are the point's
        random 3x3 integer matrices, scalars are multiples of the identity."""
        size = next((v.rows for v in point.values() if isinstance(v, sympy.MatrixBase)), 3)
        eye = sympy.eye(size)
        if isinstance(e, sympy.Symbol):
            v = point.get(e.name)
            if v is None:
                raise Unevaluable(f"no value for {e.name}")
            return v if isinstance(v, sympy.MatrixBase) else sympy.Rational(
                v.numerator, v.denominator) * eye
        if e.is_number:
            return e * eye
        if isinstance(e, sympy.Add):
            out = sympy.zeros(size)
            for a in e.args:
                out += self._operator_value(a, point)
            return sympy.ImmutableMatrix(out)
        if isinstance(e, sympy.Mul):
            out = eye
            for a in e.args:
                out = out * self._operator_value(a, point)
            return sympy.ImmutableMatrix(out)
        if isinstance(e, sympy.Pow) and e.exp.is_Integer and e.exp >= 0:
            return sympy.ImmutableMatrix(self._operator_value(e.base, point) ** int(e.exp))
        raise Unevaluable(f"cannot evaluate {type(e).__name__} over operators")

    def _fill(self, e: Any, point: dict[str, Any], arrays: dict | None) -> Any:
        if not isinstance(e, sympy.Basic):
            return e
        values = {}
        for atom in e.atoms(sympy.Indexed):
            idx = tuple(atom.indices)
            if any(i.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo) for i in idx):
                raise Undefined(f"index not finite in {atom}")
            if not all(i.is_Rational for i in idx):   # arrays are arbitrary functions of
                raise Unevaluable(f"symbolic index left in {atom}")   # rational indices
            key = f"{atom.base.label}[{', '.join(str(i) for i in idx)}]"
            values[atom] = sympy.Integer(self._entry(key, point, arrays))
        for atom in e.atoms(AppliedUndef):
            if not all(a.is_Rational for a in atom.args):
                raise Unevaluable(f"symbolic argument left in {atom}")
            key = f"{atom.func.__name__}({', '.join(str(a) for a in atom.args)})"
            values[atom] = sympy.Integer(self._entry(key, point, arrays))
        return e.xreplace(values) if values else e

    def _entry(self, key: str, point: dict[str, Any], arrays: dict | None) -> int:
        if arrays is not None:
            if key in arrays:
                return arrays[key]
            return _hash_int("unread", key)
        return _hash_int(self.seed, point["#"], key)

    @staticmethod
    def _finite(v: Any) -> Any:
        if not isinstance(v, sympy.Basic):
            raise Unevaluable(f"value of type {type(v).__name__}")
        if v.has(sympy.nan, sympy.zoo, sympy.oo, -sympy.oo):
            raise Undefined("not finite")
        if not v.is_number:
            raise Unevaluable(f"not a number: {sympy.sstr(v)[:80]}")
        return v

    # -- comparison ----------------------------------------------------------------------
    @staticmethod
    def differ(a: Any, b: Any) -> bool:
        ma, mb = isinstance(a, sympy.MatrixBase), isinstance(b, sympy.MatrixBase)
        if ma or mb:
            if not (ma and mb) or a.shape != b.shape:
                return True
            return any(Judge.differ(x, y) for x, y in zip(a, b))
        if a.is_Rational and b.is_Rational:
            return a != b
        d = sympy.N(a - b, 40)
        if not d.is_number:
            raise Unevaluable("difference is not a number")
        scale = max(1, abs(sympy.N(a, 40)), abs(sympy.N(b, 40)))
        return bool(abs(d) > sympy.Float("1e-25") * scale)

    def lhs_value(self, k: int) -> Any:
        if k not in self._lhs_values:
            try:
                self._lhs_values[k] = self.evaluate(self.lhs, self.points[k])
            except Undefined:
                self._lhs_values[k] = Undefined
        return self._lhs_values[k]

    def verdict(self, rhs: Any) -> tuple[str, dict[str, Any] | None]:
        """``("false", point)``, ``("equivalent", None)`` or ``("undefined", None)``."""
        defined = 0
        started = time.perf_counter()
        for k, point in enumerate(self.points):
            if time.perf_counter() - started > JUDGE_SECONDS and defined >= 3:
                self.truncated += 1
                break
            left = self.lhs_value(k)
            if left is Undefined:
                continue
            try:
                right = self.evaluate(rhs, point)
            except Undefined:
                continue
            defined += 1
            if self.differ(left, right):
                return "false", {n: v for n, v in point.items() if n != "#"}
        return ("equivalent" if defined else "undefined"), None

    def confirms(self, rhs: Any, counterexample: dict[str, Any]) -> bool:
        """Whether the checker's counterexample really separates ``lhs`` and ``rhs``."""
        point: dict[str, Any] = {"#": -1}
        arrays: dict[str, int] = {}
        for key, value in counterexample.items():
            if isinstance(value, list):   # an operator shown as a matrix
                point[key] = sympy.ImmutableMatrix(value)
                continue
            v = Fraction(str(value)) if not isinstance(value, (int, Fraction)) else Fraction(value)
            if re.fullmatch(r".+\[.*\]|.+\(.*\)", key):   # an entry x[1, 2] or F(3)
                arrays[key] = int(v) if v.denominator == 1 else v  # type: ignore[assignment]
            else:
                point[key] = v
        for name in self.names:
            point.setdefault(name, Fraction(self.domain.of(name).lower or 1))
        values = []
        for side in (self.lhs, rhs):
            try:
                values.append(self.evaluate(side, point, arrays))
            except Undefined:
                # a side with no value at a point of the domain: the claim fails there
                # (the checker reports such a side as "undefined")
                return True
            except (Unevaluable, sympy.ShapeError):
                return False
        try:
            return self.differ(*values)
        except (Undefined, Unevaluable, sympy.ShapeError):
            return False


# ---------------------------------------------------------------------------------------
# The book's checked steps


@dataclass
class Step:
    where: str                  # "8.23(a) derivation 2 step 3" / "formulas-4(4.1) claim 1"
    lhs: Any
    rhs: Any
    assume: tuple[str, ...]


@contextlib.contextmanager
def _recording_claim_assumptions() -> Iterator[dict[int, tuple[str, ...]]]:
    """While solving, remember the assumptions each ``Sheet.claim`` was checked under
    (a :class:`~derive.book.model.Check` block does not keep them)."""
    from derive.book.sheet import Sheet

    recorded: dict[int, tuple[str, ...]] = {}
    original = Sheet.claim

    def claim(self: Any, lhs: Any, rhs: Any, *, why: str = "", assume: Sequence[str] = (),
              label: str = "") -> Any:
        block = original(self, lhs, rhs, why=why, assume=assume, label=label)
        recorded[id(block)] = tuple(self.assume) + tuple(assume)
        return block

    Sheet.claim = claim  # type: ignore[method-assign]
    try:
        yield recorded
    finally:
        Sheet.claim = original  # type: ignore[method-assign]


def book_steps(problem: Any) -> list[Step]:
    """Every symbolic step of one problem (derivation steps and Check blocks of kind
    ``"claim"``), solved now."""
    from derive.book.model import Check, Derivation
    from derive.problems import solve

    out = []
    with _recording_claim_assumptions() as claim_assumptions:
        result = solve(problem)
    for part in result.parts:
        name = f"{problem.id}({part.part.label})" if part.part.label else problem.id
        n_deriv = n_claim = 0
        for block in part.blocks:
            if isinstance(block, Derivation):
                n_deriv += 1
                prev = block.steps[0].expr
                for i, s in enumerate(block.steps[1:], start=2):
                    lhs = prev
                    rhs = s.expr
                    if isinstance(rhs, sympy.Equality):       # a standalone claim in a chain
                        lhs, rhs = rhs.lhs, rhs.rhs
                    elif isinstance(rhs, tuple) and len(rhs) == 2:
                        lhs, rhs = rhs
                    out.append(Step(f"{name} derivation {n_deriv} step {i}", lhs, rhs,
                                    tuple(block.assumptions)))
                    prev = rhs
            elif isinstance(block, Check) and block.kind == "claim":
                n_claim += 1
                out.append(Step(f"{name} claim {n_claim}", block.lhs, block.rhs,
                                claim_assumptions.get(id(block), ())))
    return out


def _json(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _json(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json(x) for x in v]
    if isinstance(v, (int, float, str, bool)) or v is None:
        return v
    if isinstance(v, Fraction):
        return str(v) if v.denominator != 1 else int(v)
    return sympy.sstr(v) if isinstance(v, sympy.Basic) else str(v)


def _evaluated(e: Any) -> Any:
    """``e`` rebuilt with SymPy's evaluation on (what an unevaluated tree would be)."""
    if not isinstance(e, sympy.Basic) or e.is_Atom or isinstance(e, sympy.MatrixBase):
        return e
    if isinstance(e, sympy.UnevaluatedExpr):   # a bracketed number such as (-1)
        return _evaluated(e.args[0])
    try:
        return e.func(*[_evaluated(a) for a in e.args])
    except (TypeError, ValueError):
        return e


def run_step(step: Step, limit: int = MUTANTS_PER_STEP,
             budget: float = CHECK_BUDGET) -> dict[str, Any]:
    """Judge and check the sampled mutants of one step; a JSON-ready record."""
    record: dict[str, Any] = {"where": step.where, "assume": list(step.assume),
                              "mutants": [], "skipped": "",
                              "lhs_has_derivative": _has(step.lhs, (sympy.Derivative,))}
    if not (isinstance(step.lhs, sympy.Basic) and isinstance(step.rhs, sympy.Basic)):
        record["skipped"] = "not a SymPy statement (a described check)"
        return record
    # A step shown as written (derive.book.written) is unevaluated; the judge substitutes
    # numbers, which an unevaluated tree keeps as unevaluated arithmetic: evaluate it first.
    step = replace(step, lhs=_evaluated(step.lhs), rhs=_evaluated(step.rhs))
    if _has(step.lhs, (sympy.Integral,)) or _has(step.rhs, (sympy.Integral,)):
        record["skipped"] = "the judge does not evaluate integrals (8.26's transforms)"
        return record
    try:
        judge = Judge(step.lhs, step.rhs, step.assume, step.where)
        original, witness = judge.verdict(step.rhs)
    except Unevaluable as exc:
        record["skipped"] = f"the judge cannot evaluate the step ({exc})"
        return record
    if original != "equivalent":
        record["skipped"] = (f"the original step is not an identity on the default domain "
                             f"(judge: {original} at {_json(witness)})" if witness else
                             "the original step is undefined on the judge's grid")
        return record
    record["points"] = len(judge.points)
    chosen = sample(mutants(step.rhs), limit, seed=step.where)
    for desc, mutant in chosen:
        row: dict[str, Any] = {"mutation": desc, "mutant": sympy.sstr(mutant)[:300]}
        try:
            truth, witness = judge.verdict(mutant)
        except Unevaluable as exc:
            truth, witness = "unevaluable", None
            row["note"] = str(exc)
        row["judge"] = truth
        if witness is not None:
            row["witness"] = _json(witness)
        if truth in ("false", "equivalent"):
            start = time.perf_counter()
            v = check_exprs(step.lhs, mutant, step.assume, budget=budget)
            row["seconds"] = round(time.perf_counter() - start, 3)
            row["checker"] = v.status.value
            row["method"] = v.method
            if truth == "false" and v.status in (Status.TESTED, Status.UNKNOWN):
                # a survivor: would the checker's default budget (the book's) refute it?
                again = check_exprs(step.lhs, mutant, step.assume)
                row["checker_default_budget"] = again.status.value
            if v.status is Status.REFUTED:
                row["counterexample"] = _json(v.counterexample)
                cex = v.counterexample or {}
                row["confirmed"] = judge.confirms(mutant, cex)
                if truth == "equivalent" and row["confirmed"]:
                    # the judge's grid missed it; the checker's point, re-evaluated by the
                    # judge, shows the mutant is false
                    row["judge"] = "false"
                    row["witness"] = _json(cex)
                    row["found_by"] = "checker (counterexample confirmed by the judge)"
        record["mutants"].append(row)
    record["judge_truncated"] = judge.truncated
    return record


def _run_problem(relpath: str) -> list[dict[str, Any]]:
    from derive.problems import discover, load
    pf = next(f for f in discover(ROOT / "problems") if f.relpath == relpath)
    return [run_step(s) for s in book_steps(load(pf))]


# Why a false mutant may survive (be tested or unknown instead of refuted), as far as known.
KNOWN_SURVIVAL = {
    "budget": ("the checker's time budget ran out before the search reached a "
               "counterexample (a loaded machine; the book's default budget is larger)"),
}


def survival_reason(record: dict[str, Any], row: dict[str, Any]) -> str | None:
    """The known reason a false mutant survived, or None when it is not explained (a
    search that finished without finding the counterexample the judge found)."""
    if "time budget" in row.get("method", ""):
        return "budget"
    return None


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts, kill rate, survivors and unsound verdicts over all step records."""
    by_where = {r["where"]: r for r in records}
    rows = [(r["where"], m) for r in records for m in r["mutants"]]
    false = [(w, m) for w, m in rows if m["judge"] == "false"]
    killed = [(w, m) for w, m in false if m["checker"] == "refuted"]
    unsound = [(w, m) for w, m in false if m["checker"] == "proved"]
    survivors = [(w, m) for w, m in false if m["checker"] not in ("refuted", "proved")]
    equivalent = [(w, m) for w, m in rows if m["judge"] == "equivalent"]
    refuted_equivalent = [(w, m) for w, m in equivalent if m.get("checker") == "refuted"]
    unconfirmed = [(w, m) for w, m in rows
                   if m.get("checker") == "refuted" and not m.get("confirmed")]
    per_family: dict[str, dict[str, int]] = {}
    for w, m in rows:
        f = per_family.setdefault(family(m["mutation"]), {"mutants": 0, "false": 0,
                                                          "killed": 0, "equivalent": 0})
        f["mutants"] += 1
        f["false"] += m["judge"] == "false"
        f["killed"] += m["judge"] == "false" and m["checker"] == "refuted"
        f["equivalent"] += m["judge"] == "equivalent"
    return {
        "steps": len(records),
        "steps_mutated": sum(1 for r in records if not r["skipped"]),
        "steps_skipped": [{"where": r["where"], "reason": r["skipped"]}
                          for r in records if r["skipped"]],
        "mutants": len(rows),
        "false": len(false),
        "killed": len(killed),
        "equivalent": len(equivalent),
        "undefined_or_unevaluable": sum(1 for _, m in rows
                                        if m["judge"] in ("undefined", "unevaluable")),
        "kill_rate": (len(killed) / len(false)) if false else 1.0,
        "false_found_only_by_checker": sum(1 for _, m in false if m.get("found_by")),
        "per_family": per_family,
        "survivors": [{"where": w, "mutation": m["mutation"], "mutant": m["mutant"],
                       "checker": m["checker"], "reason": m["method"],
                       "known_reason": survival_reason(by_where[w], m),
                       "with_default_budget": m.get("checker_default_budget"),
                       "witness": m.get("witness")} for w, m in survivors],
        "survivors_by_reason": {
            key: sum(1 for w, m in survivors if survival_reason(by_where[w], m) == key)
            for key in [*KNOWN_SURVIVAL, None]},
        "unsound": [{"where": w, "mutation": m["mutation"], "mutant": m["mutant"],
                     "method": m["method"], "witness": m.get("witness")}
                    for w, m in unsound],
        "refuted_but_judged_equivalent": [{"where": w, "mutation": m["mutation"],
                                           "counterexample": m.get("counterexample")}
                                          for w, m in refuted_equivalent],
        "unconfirmed_refutations": [{"where": w, "mutation": m["mutation"],
                                     "counterexample": m.get("counterexample")}
                                    for w, m in unconfirmed],
    }


def print_summary(s: dict[str, Any], seconds: float) -> None:
    print(f"\nmutation testing of the book ({seconds:.0f} s, {JOBS} job(s), "
          f"<= {MUTANTS_PER_STEP} mutants/step, checker budget {CHECK_BUDGET:g} s)")
    print(f"  steps: {s['steps']} ({s['steps_mutated']} mutated, "
          f"{len(s['steps_skipped'])} skipped)")
    print(f"  mutants: {s['mutants']}; judged false {s['false']}, equivalent "
          f"{s['equivalent']}, undefined/unevaluable {s['undefined_or_unevaluable']}")
    print(f"  killed (refuted): {s['killed']} / {s['false']}  kill rate "
          f"{100 * s['kill_rate']:.1f}%  (false mutants the judge's grid missed and the "
          f"checker's confirmed counterexample showed: {s['false_found_only_by_checker']})")
    print(f"  proved although false: {len(s['unsound'])}")
    for name, f in s["per_family"].items():
        print(f"    {name:20s} mutants {f['mutants']:4d}  false {f['false']:4d}  "
              f"killed {f['killed']:4d}  equivalent {f['equivalent']:4d}")
    for key, n in s["survivors_by_reason"].items():
        if n:
            print(f"  survivors ({n}) because {KNOWN_SURVIVAL.get(key, 'UNEXPLAINED')}")
    for sv in s["survivors"]:
        print(f"  SURVIVOR [{sv['known_reason']}] {sv['where']}: {sv['mutation']} -> "
              f"{sv['checker']} ({sv['reason']}; {sv['with_default_budget']} with the default "
              f"budget); judge's witness {sv['witness']}")
    for sk in s["steps_skipped"]:
        print(f"  skipped {sk['where']}: {sk['reason']}")


# ---------------------------------------------------------------------------------------
# The slow test over the whole book


WATCHDOG_SECONDS = 1800   # the whole book takes 1-4 minutes on 2 cores


@pytest.mark.slow
def test_book_mutants_are_never_proved() -> None:
    from derive.problems import discover

    start = time.perf_counter()
    files = [f.relpath for f in discover(ROOT / "problems")]
    import faulthandler
    # A watchdog: a stuck run fails with every stack printed instead of hanging CI.
    faulthandler.dump_traceback_later(WATCHDOG_SECONDS, exit=True)
    try:
        if JOBS > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor
            # spawn, not fork: forking a process that holds library threads (BLAS, PyTorch)
            # can deadlock the child
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(JOBS, mp_context=ctx) as pool:
                chunks = list(pool.map(_run_problem, files))
        else:
            chunks = [_run_problem(f) for f in files]
    finally:
        faulthandler.cancel_dump_traceback_later()
    records = [r for chunk in chunks for r in chunk]
    seconds = time.perf_counter() - start
    s = summarize(records)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps({"settings": {
        "mutants_per_step": MUTANTS_PER_STEP, "check_budget": CHECK_BUDGET,
        "judge_points": JUDGE_POINTS, "judge_points_heavy": JUDGE_POINTS_HEAVY,
        "jobs": JOBS, "seconds": round(seconds, 1)}, "summary": s, "steps": records},
        indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print_summary(s, seconds)
    assert s["mutants"] > 0
    assert not s["unsound"], f"false mutants proved: {s['unsound']}"
    unexplained = [sv for sv in s["survivors"] if sv["known_reason"] is None]
    assert not unexplained, f"survivors with no known reason: {unexplained}"
    assert not s["unconfirmed_refutations"], (
        f"refutations whose counterexample the judge does not confirm: "
        f"{s['unconfirmed_refutations']}")


# ---------------------------------------------------------------------------------------
# Fast tests (every run): the operators, the sampler, the judge, a small end-to-end run

H, K, S, P, D, N = sympy.symbols("H K S P D N", integer=True, positive=True)
i, j, k, u, n = sympy.symbols("i j k u n", integer=True)
w, x, s_ = sympy.IndexedBase("w"), sympy.IndexedBase("x"), sympy.IndexedBase("s")
OUT = sympy.floor((H + 2 * P - K) / S) + 1
CONV = sympy.Sum(w[k] * x[i + k], (k, 0, K - 1))


def _mutants_of(e: Any, fam: str) -> set:
    return {m for _, m in mutants(e, (fam,))}


@pytest.mark.parametrize("expr, fam, expected", [
    (OUT, "constant", OUT - 1),
    (K - 1, "constant", K - 2),
    (OUT, "drop-floor", (H + 2 * P - K) / S + 1),
    (OUT, "swap-floor-ceiling", sympy.ceiling((H + 2 * P - K) / S) + 1),
    (sympy.ceiling(H / S), "swap-floor-ceiling", sympy.floor(H / S)),
    (CONV, "flip", sympy.Sum(w[K - 1 - k] * x[i + k], (k, 0, K - 1))),
    (sympy.Sum(w[K - 1 - k] * x[i + k], (k, 0, K - 1)), "flip", CONV),
    (x[i, j], "swap-index", x[j, i]),
    (x[D * u + S * i], "swap-index", x[D * i + S * u]),
    (OUT, "stride", sympy.floor((H + 2 * P - K) / (2 * S)) + 1),
    (OUT, "stride", H + 2 * P - K + 1),
    (D * (K - 1) + 1, "stride", 2 * D * (K - 1) + 1),
    (1 + (K - 1) * s_[1], "stride", 1 + 2 * (K - 1) * s_[1]),
    (H + 2 * P - K, "drop-term", H - K),
    (sympy.Sum(x[k], (k, 0, n)), "sum-bound", sympy.Sum(x[k], (k, 0, n + 1))),
    (sympy.Sum(x[k], (k, 0, n)), "sum-bound", sympy.Sum(x[k], (k, 1, n))),
    (H + 2 * S, "swap-symbols", S + 2 * H),
    (H - K, "swap-symbols", K - H),
])
def test_each_family_makes_the_slip_it_names(expr: Any, fam: str, expected: Any) -> None:
    got = _mutants_of(expr, fam)
    assert expected in got or any(sympy.expand(m - expected) == 0 for m in got), got


def test_mutants_are_new_distinct_and_keep_bound_variables() -> None:
    for expr in (OUT, CONV, sympy.Sum(w[K - 1 - k] * x[i + k], (k, 0, K - 1)) + H,
                 sympy.Mod(i - k, n), sympy.Piecewise((x[i], i <= K - 1), (0, True))):
        pairs = mutants(expr)
        got = [m for _, m in pairs]
        assert pairs and expr not in got
        assert len(set(got)) == len(got)
        for desc, m in pairs:
            assert family(desc) in OPERATORS
            for s in m.atoms(sympy.Sum):
                assert {lim[0] for lim in s.limits} <= {k}, desc


def test_matrices_are_mutated_one_entry_at_a_time() -> None:
    m = sympy.ImmutableMatrix([[H - K + 1, S]])
    pairs = mutants(m, ("constant",))
    assert pairs and all(d.startswith("entry (0, ") for d, _ in pairs)
    assert all(sum(a != b for a, b in zip(mm, m)) == 1 for _, mm in pairs)


def test_what_cannot_be_mutated_has_no_mutants() -> None:
    from derive.errors import InputError
    assert mutants("W_row X_im2col") == [] and mutants(3) == []
    with pytest.raises(InputError, match="families"):
        mutants(H, ("no-such-family",))
    with pytest.raises(InputError, match="limit"):
        sample([], -1, "seed")


def test_sampling_is_deterministic_bounded_and_spread() -> None:
    pairs = mutants(OUT + sympy.Sum(x[k], (k, 0, K - 1)))
    a, b = sample(pairs, 6, "step"), sample(pairs, 6, "step")
    assert a == b and len(a) == 6
    assert len({family(d) for d, _ in a}) == 6
    assert sample(pairs, 10_000, "step") != [] and len(sample(pairs, 10_000, "s")) == len(pairs)
    assert is_stride_name("dilation") and not is_stride_name("K")


@pytest.mark.parametrize("lhs, rhs, assume, truth", [
    (OUT, sympy.floor((H + 2 * P - K + S) / S), (), "equivalent"),
    (OUT, sympy.ceiling((H + 2 * P - K) / S) + 1, (), "false"),
    (sympy.ceiling(H / S), sympy.floor((H + S - 1) / S), (), "equivalent"),
    (CONV, sympy.Sum(w[K - 1 - k] * x[i + K - 1 - k], (k, 0, K - 1)), (), "equivalent"),
    (CONV, sympy.Sum(w[K - 1 - k] * x[i + k], (k, 0, K - 1)), (), "false"),
    # SymPy's Sum.doit solves the delta for u = 1/2; the judge writes the sum out
    (sympy.Sum(sympy.KroneckerDelta(1, i + 2 * u) * w[u], (u, 0, 1), (i, 0, 1)), w[0], (),
     "equivalent"),
    (H, H + P, ("P >= 1",), "false"),
    (H, H + P, ("P <= 0",), "equivalent"),
])
def test_the_judge_decides_by_brute_force(lhs: Any, rhs: Any, assume: tuple, truth: str
                                          ) -> None:
    judge = Judge(lhs, rhs, assume, "t")
    assert judge.verdict(rhs)[0] == truth


TRUE_STEPS = [
    Step("output size", OUT, sympy.floor((H + 2 * P - K + S) / S), ("P >= 0",)),
    Step("ceiling as floor", sympy.ceiling(H / S), sympy.floor((H + S - 1) / S), ()),
    Step("dilated size", H + 2 * P - D * (K - 1), H + 2 * P - D * K + D, ()),
    Step("kernel flip", CONV, sympy.Sum(w[K - 1 - k] * x[i + K - 1 - k], (k, 0, K - 1)), ()),
    Step("receptive field", 1 + sympy.Sum(K - 1, (k, 1, N)), N * (K - 1) + 1, ()),
]


@pytest.mark.parametrize("step", TRUE_STEPS, ids=lambda s: s.where)
def test_small_mutation_run_never_proves_a_false_mutant(step: Step) -> None:
    record = run_step(step, limit=5, budget=2.0)
    assert not record["skipped"], record["skipped"]
    rows = record["mutants"]
    assert rows
    for row in rows:
        if row["judge"] == "false":
            assert row["checker"] != "proved", row
        if row.get("checker") == "refuted":
            assert row["confirmed"], row
    s = summarize([record])
    assert s["unsound"] == [] and s["mutants"] == len(rows)
