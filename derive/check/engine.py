"""The checker's pipeline: search for a counterexample, then try to prove.

Order matters for soundness and speed: a claim is first evaluated exactly on a box of small
values and on seeded random ones (a disagreement is a refutation with both values); only a
claim that survives goes to the proof strategies; a claim that is not proved within its
time budget is reported as *tested* with the number of agreeing instances, never as proved.
"""

from __future__ import annotations

import time
from typing import Any, Sequence

import sympy

from derive.check.budget import DEFAULT_BUDGET, Deadline, time_limit
from derive.check.claim import Claim
from derive.check.evaluate import Declined, Undefined
from derive.check.defined import log_arguments, positive_unsettled, undefined_points
from derive.check.search import search
from derive.check.witness import refutation
from derive.check.strategies import STRATEGIES
from derive.check.verdict import Status, Verdict
from derive.errors import BudgetExceeded, DeriveError, InputError, UnsupportedError


def verify(claim: Any, assume: Sequence[Any] = (), budget: float | None = None) -> Verdict:
    """Check a claim given as text (``"lhs == rhs"``), a :class:`Claim`, a SymPy ``Eq`` or a
    pair ``(lhs, rhs)``.  Ill-formed text raises :class:`~derive.errors.ParseError`.

    >>> verify("floor(a/b) + floor(c/b) == floor((a + c)/b)").status.value
    'refuted'
    >>> v = verify("(C*k**2 + C*M)/(C*M*k**2) == 1/M + 1/k**2")
    >>> v.status.value, v.method
    ('proved', 'canonical form (expand and cancel)')
    """
    if isinstance(claim, str):
        return _checked(lambda: Claim.parse(claim, assume), budget)
    if isinstance(claim, Claim):
        if not assume:
            return check_claim(claim, budget)
        sides = ([d for d, s in claim.divisors if s == 0], [d for d, s in claim.divisors if s])
        return _checked(lambda: Claim.from_exprs(claim.lhs, claim.rhs, assume, text=claim.text,
                                                 divisors=sides), budget)
    if isinstance(claim, sympy.Equality):
        return _checked(lambda: Claim.from_exprs(claim.lhs, claim.rhs, assume), budget)
    if isinstance(claim, tuple) and len(claim) == 2:
        return _checked(lambda: Claim.from_exprs(claim[0], claim[1], assume), budget)
    if claim is sympy.true or claim is sympy.false:
        raise InputError(f"got claim={claim!r}: SymPy already decided the equation while "
                         f"building it; pass Eq(lhs, rhs, evaluate=False) or a pair (lhs, rhs)")
    raise InputError(f"got claim={claim!r}; expected text 'lhs == rhs', a Claim, a SymPy "
                     f"Eq or a pair (lhs, rhs)")


def check_exprs(lhs: Any, rhs: Any, assume: Sequence[Any] = (),
                budget: float | None = None,
                divisors: tuple[Sequence[Any], Sequence[Any]] = ((), ())) -> Verdict:
    """Check ``lhs == rhs`` for SymPy expressions (symbols re-created by name on their
    domains: positive integers unless ``assume`` says otherwise).  ``divisors`` lists,
    per side, what the text divides by where SymPy may have cancelled it (the parser
    records them).

    >>> import sympy
    >>> q, s = sympy.symbols("q s")
    >>> check_exprs(q, s * sympy.floor(q / s) + sympy.Mod(q, s)).proved
    True
    """
    sides = (tuple(divisors[0]), tuple(divisors[1]))
    key = (_key(lhs), _key(rhs), tuple(str(a) for a in assume), budget,
           tuple(tuple(_key(c) for c in side) for side in sides))
    try:
        return _cached(key, lhs, rhs, tuple(assume), budget, sides)
    except TypeError:  # unhashable pieces: check without the cache
        return _checked(lambda: Claim.from_exprs(lhs, rhs, assume, divisors=sides), budget)


def _key(e: Any) -> str:
    return sympy.srepr(e) if isinstance(e, sympy.Basic) else repr(e)


_CACHE: dict[tuple, Verdict] = {}


def _cached(key: tuple, lhs: Any, rhs: Any, assume: tuple, budget: float | None,
            sides: tuple = ((), ())) -> Verdict:
    hit = _CACHE.get(key)
    if hit is None:
        hit = _checked(lambda: Claim.from_exprs(lhs, rhs, assume, divisors=sides), budget)
        if len(_CACHE) > 20_000:
            _CACHE.clear()
        if not hit.timed_out:  # an outcome that depends on the machine's load is not kept
            _CACHE[key] = hit
    return hit


def _checked(make: Any, budget: float | None) -> Verdict:
    """Build a claim and check it; a claim SymPy cannot rebuild is unknown, not a crash."""
    try:
        claim = make()
    except UnsupportedError as exc:
        return Verdict(Status.UNKNOWN, str(exc))
    return check_claim(claim, budget)


def check_claim(claim: Claim, budget: float | None = None) -> Verdict:
    """Run the pipeline on a :class:`Claim` within ``budget`` seconds."""
    seconds = DEFAULT_BUDGET if budget is None else budget
    start = time.perf_counter()
    try:
        with time_limit(seconds) as deadline:
            verdict = _check(claim, deadline)
    except BudgetExceeded as exc:
        verdict = Verdict(Status.UNKNOWN, f"{exc} before the search finished",
                          claim=claim.text, timed_out=True)
    except RecursionError:
        verdict = Verdict(Status.UNKNOWN, "expression too deep to check", claim=claim.text)
    except DeriveError:
        raise
    except Exception as exc:  # a SymPy failure is an unknown, not a crash
        verdict = Verdict(Status.UNKNOWN, f"unsupported construct ({type(exc).__name__}: "
                                          f"{str(exc)[:200]})", claim=claim.text)
    return _with_time(verdict, time.perf_counter() - start)


def _with_time(v: Verdict, seconds: float) -> Verdict:
    from dataclasses import replace
    return replace(v, seconds=seconds)


def _check(claim: Claim, deadline: Deadline) -> Verdict:
    lhs, rhs = claim.lhs, claim.rhs
    if isinstance(lhs, sympy.MatrixBase) or isinstance(rhs, sympy.MatrixBase):
        return _check_matrix(claim, deadline)
    if claim.operators:
        return _check_operators(claim, deadline)
    names = claim.names
    found = search(lhs, rhs, names, claim.domain, seed=claim.text, deadline=deadline,
                   divisors=claim.divisors, original=claim.original)
    if found.counterexample is not None:
        return refutation(claim, found)
    if found.exhaustive and found.in_domain == 0:
        raise InputError(f"the assumptions leave no point: {'; '.join(claim.domain.texts)} "
                         f"(domain: {claim.domain.describe()})")
    if found.instances == 0 and not found.declined:
        return Verdict(Status.UNKNOWN, "no point of the domain where both sides are defined",
                       claim=claim.text, detail=f"domain: {claim.domain.describe()}")
    from sympy.core.function import AppliedUndef
    has_indexed = any(side.has(sympy.Indexed) or side.atoms(AppliedUndef) for side in (lhs, rhs))
    if found.complete and not has_indexed:
        return Verdict(Status.PROVED, f"exhaustive check over the finite domain "
                       f"({found.instances} case{'s' if found.instances != 1 else ''}, every "
                       f"point evaluated exactly: {claim.domain.describe()})",
                       claim=claim.text, instances=found.instances)
    # A proof needs both sides defined on the whole domain, not only at the points tried.
    point, unsettled = undefined_points(claim.nonzero, claim.domain)
    if point is not None:
        at = _search_at(claim, point)
        if at.counterexample is not None:
            return refutation(claim, at, "a zero of a divisor inside the domain")
    if unsettled is None and point is None:
        arg = positive_unsettled(log_arguments(lhs, rhs), claim.domain)
        if arg is not None:
            return Verdict(Status.TESTED, f"no proof: {sympy.sstr(arg)} (under a logarithm or a "
                           f"root) could not be shown positive on the whole domain",
                           claim=claim.text, instances=found.instances,
                           detail=f"domain: {claim.domain.describe()}")
    if point is not None or unsettled is not None:
        what = (f"the divisor {sympy.sstr(unsettled)} could not be shown non-zero on the "
                f"whole domain" if unsettled is not None else
                "a divisor vanishes inside the domain")
        return Verdict(Status.TESTED, f"no proof: {what}", claim=claim.text,
                       instances=found.instances, detail=f"domain: {claim.domain.describe()}")
    if found.rewritten:
        return Verdict(Status.TESTED, "no proof: SymPy's rebuilding of the claim on its domain "
                       "changed a value, so no symbolic argument is trusted here",
                       claim=claim.text, instances=found.instances,
                       detail=f"domain: {claim.domain.describe()}")
    exact = not found.inexact and found.declined == 0
    if not names and not has_indexed and exact:
        return Verdict(Status.PROVED, "exact evaluation", claim=claim.text, instances=1)
    try:
        for strategy in STRATEGIES:
            deadline.check()
            proof = strategy(lhs, rhs, claim.domain)
            if proof:
                method, lemmas = proof
                return Verdict(Status.PROVED, method, claim=claim.text, lemmas=lemmas,
                               instances=found.instances)
    except BudgetExceeded as exc:
        return Verdict(Status.TESTED, f"no proof found: {exc}", claim=claim.text,
                       instances=found.instances, timed_out=True)
    except (RecursionError, sympy.PolynomialError, sympy.CoercionFailed, ValueError,
            TypeError, NotImplementedError, AttributeError, ZeroDivisionError, Declined,
            Undefined):
        pass  # a strategy that cannot handle the expression proves nothing
    if found.instances == 0:
        return Verdict(Status.UNKNOWN, "no proof found, and no point of the domain could be "
                       "evaluated or decided", claim=claim.text,
                       detail=f"domain: {claim.domain.describe()}")
    note = "no proof found"
    if found.inexact:
        note += ("; values compared by interval arithmetic, agreeing to about 30 significant "
                 "digits")
    if found.declined:
        note += f"; {found.declined} point{'s' if found.declined != 1 else ''} too large to " \
                "evaluate or decide were left out"
    return Verdict(Status.TESTED, note, claim=claim.text, instances=found.instances,
                   detail=f"domain: {claim.domain.describe()}")


def _search_at(claim: Claim, point: dict[str, Any]) -> Any:
    """The search run on the one point ``point`` (so that its verdict passes the same
    re-check as any other counterexample)."""
    from dataclasses import replace as _replace
    from fractions import Fraction
    fixed = [f"{k} == {v}" for k, v in sorted(point.items())]
    domain = claim.domain
    symbols = dict(domain.symbols)
    for k, v in point.items():
        symbols[k] = _replace(domain.of(k), lower=Fraction(v), upper=Fraction(v),
                              strict_lower=False, strict_upper=False)
    pinned = _replace(domain, symbols=symbols, texts=domain.texts + tuple(fixed))
    found = search(claim.lhs, claim.rhs, claim.names, pinned, seed=claim.text,
                   divisors=claim.divisors, original=claim.original)
    return found


def _check_matrix(claim: Claim, deadline: Deadline) -> Verdict:
    lhs, rhs = sympy.Matrix(claim.lhs), sympy.Matrix(claim.rhs)
    if lhs.shape != rhs.shape:
        return Verdict(Status.REFUTED, "the two sides have different shapes", claim=claim.text,
                       counterexample={}, lhs_value=lhs.shape, rhs_value=rhs.shape)
    verdicts = []
    for i in range(lhs.rows):
        for j in range(lhs.cols):
            deadline.check()
            entry = Claim(lhs[i, j], rhs[i, j], claim.domain, f"{claim.text} [entry {i},{j}]",
                          claim.divisors)
            v = _check(entry, deadline)
            if v.status is Status.REFUTED:
                from dataclasses import replace
                return replace(v, claim=claim.text, method=f"entry ({i}, {j}) differs; {v.method}")
            verdicts.append(v)
    from derive.check.verdict import weakest
    status = weakest(v.status for v in verdicts)
    methods = sorted({v.method for v in verdicts})
    count = f"{len(verdicts)} {'entry' if len(verdicts) == 1 else 'entries'}"
    return Verdict(status, f"entry by entry ({count}): " + "; ".join(methods)[:300],
                   claim=claim.text, instances=sum(v.instances for v in verdicts))


OPERATOR_TRIALS = 24


def _check_operators(claim: Claim, deadline: Deadline) -> Verdict:
    """Claims over non-commutative symbols: random 2x2 integer matrices stand for the
    operators (a disagreement refutes), and only a symbolic identity in the free algebra
    (expansion without reordering) proves."""
    import itertools
    import random

    from derive.check.search import candidate_points
    rng = random.Random(claim.text)
    ops = claim.operators
    scalars = sorted((s for s in (claim.lhs - claim.rhs).free_symbols
                      if s.is_commutative is not False), key=lambda s: s.name)
    diff = claim.lhs - claim.rhs
    # scalar values come from their domains, like every other point the checker tries
    values = itertools.cycle(list(itertools.islice(
        candidate_points([s.name for s in scalars], claim.domain, claim.text), 64)) or [{}])
    for trial in range(OPERATOR_TRIALS):
        deadline.check()
        point = {op: sympy.ImmutableMatrix(2, 2, [rng.randint(-3, 3) for _ in range(4)])
                 for op in ops}
        chosen = next(values)
        point.update({s: sympy.Rational(chosen[s.name].numerator, chosen[s.name].denominator)
                      for s in scalars if s.name in chosen})
        try:
            left = sympy.expand(claim.lhs.xreplace(point).doit())
            right = sympy.expand(claim.rhs.xreplace(point).doit())
            if not isinstance(left, sympy.MatrixBase):
                left = left * sympy.eye(2)
            if not isinstance(right, sympy.MatrixBase):
                right = right * sympy.eye(2)
        except (TypeError, ValueError, sympy.ShapeError):
            return Verdict(Status.UNKNOWN, "cannot evaluate the operators as matrices",
                           claim=claim.text)
        if left != right:
            shown = {str(k): [list(map(int, row)) for row in k_val.tolist()]
                     if isinstance(k_val, sympy.MatrixBase) else k_val
                     for k, k_val in point.items()}
            return Verdict(Status.REFUTED, "random 2x2 integer matrices for the operators",
                           claim=claim.text, counterexample=shown,
                           lhs_value=left.tolist(), rhs_value=right.tolist(), instances=trial + 1)
    if sympy.expand(diff) == 0:
        return Verdict(Status.PROVED, "canonical form in the non-commutative algebra "
                       "(expansion without reordering factors)", claim=claim.text,
                       instances=OPERATOR_TRIALS)
    return Verdict(Status.TESTED, "no proof found; operators sampled as random 2x2 integer "
                   "matrices", claim=claim.text, instances=OPERATOR_TRIALS)
