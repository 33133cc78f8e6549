"""Whole-pipeline differential fuzzer for the checker's soundness.

Hypothesis drives :mod:`soundness_grammar`'s generator: each example is a claim over a
small finite integer domain (one time in eight, one symbol is unbounded above), written as
text in the claim language with its assumptions in varied forms, and judged by brute force
with the grammar's own exact evaluator (``fractions``; never SymPy, never derive's own
evaluation), so the ground truth is independent of the engine under test.  Then
``derive.verify(text, assume=..., budget=BUDGET)`` must keep the soundness contract:

1. no false claim is PROVED (false: some point where the sides differ or a side is
   undefined; for an unbounded symbol brute force covers a prefix plus far probes);
2. a REFUTED verdict's counterexample assigns exactly the domain's symbols, values inside
   the domain, and brute force confirms it there (sides differ, or a side is undefined,
   which the verdict then reports as the value ``"undefined"``); the reported side values
   are the true ones;
3. no claim true on its whole (finite) domain is REFUTED;
4. ``verify`` raises nothing but :class:`~derive.errors.DeriveError`, and that only for
   contradictory assumptions (checked by its own property, which must raise
   :class:`~derive.errors.InputError`), a claim with a point where a side is undefined, a
   divisor that is identically 0 as written, or the parse budget running out (refusing
   such a claim is not unsound).

Tests: the random property (``DERIVE_SOUNDNESS_CLAIMS`` claims, 20,000 by default, from
seed ``DERIVE_SOUNDNESS_SEED``, 0 by default, ``random`` for a fresh one; marked slow: about
3.5 minutes on 2 cores); the known defects, one test each and as ``@example`` pins; a
property for contradictory assumptions; and a check of the fuzzer itself (its texts mean
its trees).  The random property prints its size, seed and counts (truth, verdicts,
failures) at the end, past pytest's capture.  ``DERIVE_SOUNDNESS_COLLECT=1`` makes it keep
going past failures and print them grouped by class, for triage;
``scripts/soundness-campaign`` runs a long campaign (200,000 claims, fresh seed) that way.
"""

from __future__ import annotations

import os
import random
import sys
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, Phase, example, given, seed, settings, strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
import soundness_grammar as g  # noqa: E402

from derive.check.engine import verify  # noqa: E402
from derive.check.verdict import Status, Verdict  # noqa: E402
from derive.errors import DeriveError, InputError  # noqa: E402

CLAIMS = int(os.environ.get("DERIVE_SOUNDNESS_CLAIMS", "20000"))
_SEED_TEXT = os.environ.get("DERIVE_SOUNDNESS_SEED", "0").strip()
SEED = (random.SystemRandom().randrange(2 ** 32) if _SEED_TEXT.lower() == "random"
        else int(_SEED_TEXT))
COLLECT = os.environ.get("DERIVE_SOUNDNESS_COLLECT", "") not in ("", "0")
CONTRADICTIONS = max(300, CLAIMS // 40)
BUDGET = 1.0           # seconds per verify call
EXAMPLES_SHOWN = 4     # per failure class, in the collected summary

FUZZ = settings(deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=list(HealthCheck))


# ---------------------------------------------------------------------------------------
# Failures: one exception type per property, so Hypothesis shrinks and reports each


class Unsound(AssertionError):
    """A broken soundness property."""


class FalseProof(Unsound):
    """Property 1: a false claim was proved."""


class BadCounterexample(Unsound):
    """Property 2: the counterexample is not a point of the domain, or not a witness."""


class WrongSideValue(Unsound):
    """Property 2: the reported value of a side at the counterexample is not its value."""


class TrueRefuted(Unsound):
    """Property 3: a claim true on its whole domain was refuted."""


class UnexpectedError(Unsound):
    """Property 4: verify raised where it should have answered."""


@dataclass
class Stats:
    """Counts for the summary line."""
    claims: int = 0
    true: int = 0
    false: int = 0
    prefix: int = 0
    verdicts: Counter = field(default_factory=Counter)
    raised: int = 0
    unjudged: int = 0
    failures: Counter = field(default_factory=Counter)
    collected: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))

    def line(self, what: str, seconds: float) -> str:
        v = self.verdicts
        fails = ", ".join(f"{k} {n}" for k, n in sorted(self.failures.items())) or "none"
        return (f"soundness fuzz ({what}): {self.claims} claims, seed {SEED}, {seconds:.0f} s; "
                f"truth: {self.true} true, {self.false} false ({self.prefix} judged on a "
                f"prefix); verdicts: proved {v['proved']}, refuted {v['refuted']}, "
                f"tested {v['tested']}, unknown {v['unknown']}, error {v['error']}, "
                f"raised {self.raised}; counterexamples not judged (too costly) "
                f"{self.unjudged}; failures: {fails}")


# ---------------------------------------------------------------------------------------
# Reading the verdict


def as_value(v: Any) -> Fraction | str:
    """A reported value as a Fraction (ints, Fractions, SymPy Rationals, text '3/2'), or
    ``"undefined"``; anything else raises ValueError."""
    if isinstance(v, bool):
        raise ValueError(f"a boolean {v!r}")
    if isinstance(v, (int, Fraction)):
        return Fraction(v)
    if isinstance(v, float):
        if v.is_integer():
            return Fraction(int(v))
        raise ValueError(f"an inexact float {v!r}")
    text = str(v).strip()
    if text.lower() == g.UNDEFINED:
        return g.UNDEFINED
    return Fraction(text)


def shown(v: Any) -> str:
    return str(v) if not isinstance(v, Fraction) else (
        str(v.numerator) if v.denominator == 1 else f"{v.numerator}/{v.denominator}")


def verdict_text(v: Verdict) -> str:
    out = f"verdict: {v.status.value} ({v.method})"
    if v.status is Status.REFUTED:
        out += (f"\n         counterexample {v.counterexample!r}, lhs_value {v.lhs_value!r}, "
                f"rhs_value {v.rhs_value!r}")
    return out


def truth_text(case: g.Case) -> str:
    t = case.truth
    if t.true:
        where = "its whole domain" if t.exhaustive else \
            f"all {t.points} points checked (prefix and far probes)"
        return f"truth:   TRUE on {where}"
    a, b = t.witness_values or (None, None)
    return f"truth:   FALSE at {t.witness}: lhs = {shown(a)}, rhs = {shown(b)}"


def report(case: g.Case, v: Verdict | None, problem: str) -> str:
    lines = [problem, case.describe(), truth_text(case)]
    if v is not None:
        lines.append(verdict_text(v))
    lines.append(f"replay:  verify({case.text!r}, assume={case.assume!r}, budget={BUDGET})")
    return "\n".join(lines)


def counterexample_problems(case: g.Case, v: Verdict, stats: Stats) -> list[tuple[type, str]]:
    """What is wrong with a REFUTED verdict's counterexample (empty: nothing)."""
    cx = v.counterexample
    if not isinstance(cx, dict):
        return [(BadCounterexample, f"REFUTED without a counterexample ({cx!r})")]
    names = set(case.ranges)
    problems: list[tuple[type, str]] = []
    missing, extra = sorted(names - set(cx)), sorted(set(cx) - names)
    if missing:
        problems.append((BadCounterexample, f"counterexample leaves {missing} unassigned"))
    if extra:
        problems.append((BadCounterexample, f"counterexample assigns {extra}, which are not "
                                            f"free symbols of the claim"))
    point: dict[str, int] = {}
    for name in sorted(names & set(cx)):
        try:
            value = as_value(cx[name])
        except (ValueError, ZeroDivisionError) as exc:
            problems.append((BadCounterexample, f"{name} = {cx[name]!r} is not a number ({exc})"))
            continue
        if value == g.UNDEFINED or value.denominator != 1 or \
                not case.ranges[name].contains(int(value)):
            problems.append((BadCounterexample, f"{name} = {shown(value)} is outside the "
                                                f"domain ({case.ranges[name].describe()})"))
            continue
        point[name] = int(value)
    if problems:
        return problems
    try:
        a, b = g.value_at(case.lhs, case.rhs, point)
    except (g.TooCostly, g.OutOfGrammar):
        stats.unjudged += 1
        return []
    if a != g.UNDEFINED and b != g.UNDEFINED and a == b:
        return [(BadCounterexample, f"at the counterexample both sides are {shown(a)}")]
    for side, mine, theirs in (("lhs", a, v.lhs_value), ("rhs", b, v.rhs_value)):
        try:
            reported = as_value(theirs)
        except (ValueError, ZeroDivisionError):
            reported = None
        if reported != mine:
            problems.append((WrongSideValue, f"{side} at the counterexample is {shown(mine)}, "
                                             f"reported as {theirs!r}"))
    return problems


def failure_class(case: g.Case, v: Verdict | None, problem: str) -> str:
    """A coarse label for grouping collected failures: the verdict, the stem of its
    method, and what brute force saw (an undefined side, or different values)."""
    stem = (v.method if v is not None else problem)
    for cut in (":", "(", ";"):
        stem = stem.split(cut)[0]
    if case.truth.true:
        seen = "true claim"
    elif g.UNDEFINED in (case.truth.witness_values or ()):
        seen = "false: a side undefined"
    else:
        seen = "false: values differ"
    return f"{v.status.value if v is not None else 'raised'}: {stem.strip()} | {seen}"


# Refusals that say nothing about the claim's truth, so never unsound: a divisor that is
# identically 0 as written (even inside a sum whose range may be empty), and the parse-time
# budget running out on a loaded machine.
_FAIR_REFUSALS = ("division by zero", "s to build; simplify it")


def _fair_refusal(exc: Exception) -> bool:
    return any(words in str(exc) for words in _FAIR_REFUSALS)


def check(case: g.Case, stats: Stats, collect: bool = False) -> None:
    """Run verify on one case and raise the first broken property (or, with ``collect``,
    record every one in ``stats`` and go on)."""
    stats.claims += 1
    stats.true += case.truth.true
    stats.false += not case.truth.true
    stats.prefix += case.prefix_only
    problems: list[tuple[type, str]] = []
    v: Verdict | None = None
    try:
        v = verify(case.text, assume=case.assume, budget=BUDGET)
    except DeriveError as exc:
        stats.raised += 1
        bad, seen = g.undefined_points(case.lhs, case.rhs, case.ranges)
        if bad == 0 and not _fair_refusal(exc):
            problems.append((UnexpectedError, f"verify raised {type(exc).__name__}: {exc} "
                                              f"(the domain is not empty and both sides are "
                                              f"defined at all {seen} checked points)"))
    except Exception as exc:  # noqa: BLE001 - property 4: anything else is a defect
        stats.raised += 1
        tb = "".join(traceback.format_exception(exc, limit=-3))
        problems.append((UnexpectedError, f"verify raised {type(exc).__name__} (not a "
                                          f"DeriveError): {exc}\n{tb}"))
    if v is not None:
        stats.verdicts[v.status.value] += 1
        if v.status is Status.PROVED and not case.truth.true:
            problems.append((FalseProof, "a false claim was PROVED"))
        if v.status is Status.REFUTED:
            if case.truth.true and case.truth.exhaustive:
                problems.append((TrueRefuted, "a claim true on its whole domain was REFUTED"))
            problems += counterexample_problems(case, v, stats)
    for kind, problem in problems:
        stats.failures[kind.__name__] += 1
        message = report(case, v, f"{kind.__name__}: {problem}")
        if not collect:
            raise kind(message)
        stats.collected[(kind.__name__, failure_class(case, v, problem))].append(message)


def summary(line: str, stats: Stats) -> str:
    out = [line]
    if stats.collected:
        out.append("failure classes (by property, verdict and method):")
        for (kind, method), messages in sorted(stats.collected.items(),
                                               key=lambda kv: -len(kv[1])):
            out.append(f"== {len(messages)} claims: {kind} | {method}; shortest:")
            for m in sorted(messages, key=len)[:EXAMPLES_SHOWN]:
                out.append("   " + m.replace("\n", "\n   "))
    return "\n".join(out)


def cases() -> st.SearchStrategy[g.Case]:
    """Generated claims; every decision is a (shrinkable) Hypothesis draw."""
    return st.randoms(use_true_random=False).map(g.gen_case)


def run_campaign(prop: Callable[[], None], stats: Stats, what: str,
                 capsys: pytest.CaptureFixture[str]) -> None:
    """Run the property; print the size, seed and counts past pytest's capture (and into
    the captured output, which a failure report shows)."""
    start = time.perf_counter()
    try:
        prop()
    finally:
        text = summary(stats.line(what, time.perf_counter() - start), stats)
        print(text)
        with capsys.disabled():
            sys.stdout.write("\n" + text + "\n")
    if stats.collected:
        pytest.fail(f"{sum(stats.failures.values())} soundness failures in "
                    f"{len(stats.collected)} classes (printed above)")


# ---------------------------------------------------------------------------------------
# The properties


@pytest.mark.slow      # 20,000 claims: about 3.5 minutes on a 2-core machine
def test_random_claims_are_judged_soundly(capsys: pytest.CaptureFixture[str]) -> None:
    """Properties 1-4 on ``CLAIMS`` generated claims."""
    stats = Stats()

    @settings(FUZZ, max_examples=CLAIMS)
    @seed(SEED)
    @given(cases())
    def prop(case: g.Case) -> None:
        check(case, stats, collect=COLLECT)

    run_campaign(prop, stats, "random claims", capsys)


@dataclass(frozen=True)
class Pin:
    claim: str
    assume: tuple[str, ...]
    true: bool        # what the pin's ground truth must say (checks the evaluator too)


# Known defects of the engine (each must hold once it is fixed), and the truth of each.
PINS = [
    Pin("binomial(n, 2) == n*(n - 1)/2 + floor(n/5001)", ("n >= 4990", "n <= 5010"), False),
    Pin("x == 1", ("x <= 2", "x < 2.5"), False),
    Pin("floor(4/x) == 0", ("x >= 5", "x positive", "x <= 12"), True),
    Pin("floor(4/x) == 0", ("x positive", "x >= 5", "x <= 12"), True),
    Pin("floor((H - H_shifted - 1)**2/10**9) == 0", ("H >= 2",), False),
    Pin("k + Sum(Sum(1, (j, 1, k)), (k, 1, n)) == k + k*n", ("k <= 3", "n <= 3"), False),
    Pin("k + Sum(Sum(1, (j, 1, k)), (k, 1, n)) == k + n*(n + 1)/2", ("k <= 3", "n <= 3"), True),
    Pin("Sum(1, (k, 1, n - 2)) == n - 2", (), False),
    Pin("Sum(k, (k, 5, 3)) == 0", (), True),
    Pin("x/x == 1", ("x >= 0", "x <= 4"), False),
    Pin("Mod(6, x - 3) == 0", ("x <= 5",), False),
]

# Minimal examples of further defect classes this fuzzer found (each holds once fixed).
FOUND_PINS = [
    # undefined only inside the body of an empty sum / product: defined (0 and 1)
    Pin("Sum(1/x, (k, 1, x)) == Min(x, 1)", ("x >= 0", "x <= 3"), True),
    # binomial with a negative upper argument: (-1)**x, never undefined
    Pin("binomial(-1, x) == 1 - 2*Mod(x, 2)", ("x >= 0", "x <= 4"), True),
    # multi-limit sum: the inner limit's k is the outer index, not a free symbol
    Pin("Sum(1, (j, 1, k), (k, 1, n)) == n*(n + 1)/2", ("n <= 4",), True),
    Pin("Sum(1, (j, 1, k), (k, 1, n)) == n**2", ("n <= 3",), False),
    # SymPy's automatic evaluation drops the undefined point x = 0
    Pin("Mod(x, x) == 0", ("x >= 0", "x <= 3"), False),
    # ... and takes a product of zeros for zero even over an empty range (1 at n = 1, 2)
    Pin("Abs(Product(0, (k, 1, n - 2))) == 0", ("n <= 3",), False),
    # the side that is defined at the counterexample is reported as its value
    Pin("Mod(x, 7) == Mod(7, x)", ("x >= 0", "x <= 4"), False),
    # a well-formed claim SymPy cannot build is not an input error
    Pin("Mod(binomial(x, 2), 0.5) == Mod(x*(x - 1)/2, 0.5)", ("x <= 4",), True),
    Pin("Mod(4, Product(t, (t, 1, 2))) == 0", (), True),
    Pin("Min(Product(i, (i, 1, -2)), 2) == 1", (), True),
    # nowhere defined: refuted, or refused with an InputError, but no ZeroDivisionError
    # or ValueError from SymPy
    Pin("Mod(x, floor(x/(x + 1))) == 0", ("x <= 3",), False),
    Pin("Min(floor(1/Mod(a, 1/2)), 1) == 1", ("a <= 3",), False),
    # an ordinary claim: no RecursionError out of SymPy's Mod
    Pin("Mod(x - 3, b + 1) == Mod(x - 2, b + 1)", ("b <= 4", "x <= 1"), False),
    # an empty constant sum is 0 inside floor too (Karr's convention gives 8)
    Pin("floor(Sum(-1, (k, 10, 1))) == 0", (), True),
    # 'x integer' drops only the default lower bound, not an explicit one (any order)
    Pin("floor(2/x) == 0", ("x >= 3", "x integer", "x <= 9"), True),
    # closed forms and lemmas must respect empty ranges and undefined points
    Pin("Sum(1, (j, 0, p + 1)) == Sum(1, (j, 0, p)) + 1", ("-4 < p",), False),
    Pin("ceiling(a/(a - 10)) == -floor(-(a/(a - 10)))", ("0 <= a",), False),
]


def pinned(pin: Pin) -> g.Case:
    case = g.case_from_text(pin.claim, pin.assume)
    assert case.truth.true is pin.true, (
        f"the fuzzer's own ground truth disagrees with the pin:\n{case.describe()}\n"
        f"{truth_text(case)}")
    return case


@pytest.mark.parametrize("pin", PINS + FOUND_PINS,
                         ids=lambda p: f"{p.claim} | {', '.join(p.assume)}")
def test_known_defect(pin: Pin) -> None:
    """Each known defect on its own (a checklist for the engine's fix)."""
    check(pinned(pin), Stats())


def _with_pins(test: Callable[..., None]) -> Callable[..., None]:
    for pin in reversed(PINS + FOUND_PINS):
        test = example(pinned(pin))(test)
    return test


@settings(FUZZ, max_examples=50, phases=[Phase.explicit, Phase.generate, Phase.shrink])
@seed(SEED)
@given(cases())
@_with_pins
def test_pinned_claims_then_random_ones(case: g.Case) -> None:
    """The known defects as ``@example`` pins, then a few random claims."""
    check(case, Stats())


@settings(FUZZ, max_examples=300)
@seed(SEED)
@given(cases())
def test_fuzzer_texts_mean_their_trees(case: g.Case) -> None:
    """The fuzzer's own check: the claim text, read back with Python's grammar (which
    the claim language shares), has the tree's value at every point, and the assumption
    texts, read back, give the same domain."""
    lhs, rhs = g.parse_claim(case.text)
    points, grid, _ = g.domain_points(case.ranges)
    for point in points[:grid]:
        for tree, read in ((case.lhs, lhs), (case.rhs, rhs)):
            try:
                want = g.side_value(tree, dict(point), g.Cost())
            except g.OutOfGrammar:     # a false claim may leave the grammar past its witness
                continue
            assert g.side_value(read, dict(point), g.Cost()) == want, (case.text, point)
    reread = [g.parse_assumption(a) for a in case.assume]
    assert g.solve_domain(sorted(case.ranges), reread) == case.ranges, case.assume


def contradictions() -> st.SearchStrategy[tuple[str, list[g.Assumption], str]]:
    return st.randoms(use_true_random=False).map(g.gen_contradiction)


@settings(FUZZ, max_examples=CONTRADICTIONS)
@seed(SEED)
@given(contradictions())
@example(("x == 1", [g.parse_assumption("x odd"), g.parse_assumption("x even")], "odd-even"))
@example(("x == 1", [g.parse_assumption("x >= 5"), g.parse_assumption("x <= 3")], "bounds"))
def test_contradictory_assumptions_are_refused(item: tuple[str, list[g.Assumption], str]) -> None:
    """Assumptions that leave a symbol no value make verify raise InputError."""
    claim, assumptions, kind = item
    names = sorted({f.name for a in assumptions for f in a.facts})
    with pytest.raises(g.Contradiction):       # the generator's own judgement
        g.solve_domain(names, assumptions)
    assume = [a.text for a in assumptions]
    where = f"claim:   {claim}\nassume:  {assume!r}  ({kind})"
    try:
        v = verify(claim, assume=assume, budget=BUDGET)
    except InputError:
        return
    except Exception as exc:  # noqa: BLE001
        raise UnexpectedError(f"contradictory assumptions raised {type(exc).__name__} "
                              f"(expected InputError): {exc}\n{where}") from exc
    raise UnexpectedError(f"contradictory assumptions gave a verdict instead of an "
                          f"InputError\n{where}\n{verdict_text(v)}")
