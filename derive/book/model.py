"""Data model of the book.  Blocks are plain, immutable records; every checked block holds
the :class:`~derive.check.verdict.Verdict` that backs it, so a renderer can show how each
line was checked and can never show a line that was not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from derive.check.verdict import Status, Verdict, weakest

# The sets of the course, in book order: (key, chapter title).
SETS: tuple[tuple[str, str], ...] = (
    ("practice", "Practice exercises"),
    ("theory", "Theory notebook, worked sections"),
    ("chapter8", "Chapter 8 exercises"),
    ("formulas", "Formula sheet"),
)


@dataclass(frozen=True)
class Text:
    """Prose in our own words (not a claim)."""
    text: str


@dataclass(frozen=True)
class Explanation:
    """A written explanation that is *not* machine-checked; ``rests_on`` names the checked
    facts (labels of other blocks or engine functions) it relies on."""
    text: str
    rests_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class DerivationStep:
    expr: Any            # a SymPy expression
    why: str             # short justification
    verdict: Verdict | None  # None for the first line (nothing to check it against)


@dataclass(frozen=True)
class Derivation:
    """A chain ``lhs = e0 = e1 = ...``; each step checked against the previous one."""
    lhs: Any                      # what is being computed (a SymPy expression or a name)
    steps: tuple[DerivationStep, ...]
    assumptions: tuple[str, ...] = ()
    label: str = ""

    @property
    def status(self) -> Status:
        return weakest(s.verdict.status for s in self.steps if s.verdict is not None)


@dataclass(frozen=True)
class Check:
    """One checked statement ``lhs == rhs`` (symbolic or numeric) with its verdict.

    ``kind`` is ``"claim"`` for symbolic statements, ``"numeric"`` for a cross-check of an
    engine value (``lhs``) against an independent computation (``rhs``; the verdict's method
    names it), or ``"optional"`` for a cross-check against a package that may be absent
    (``requires`` names it; ``rhs`` is ``None`` where it is).  A claim is a displayed
    equation; a cross-check is a row of a comparison table, never an equation, and never
    counts as a proof."""
    lhs: Any
    rhs: Any
    verdict: Verdict
    why: str = ""
    kind: str = "claim"
    label: str = ""
    requires: str = ""
    method: str = ""     # a cross-check's reference computation, in words
    tol: float | None = None

    @property
    def status(self) -> Status:
        return self.verdict.status

    @property
    def is_cross_check(self) -> bool:
        return self.kind in ("numeric", "optional")


@dataclass(frozen=True)
class Answer:
    """The answer of a part: a value from the engine, backed by the checks before it."""
    label: str
    value: Any
    unit: str = ""


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    caption: str = ""


@dataclass(frozen=True)
class MatrixView:
    name: str
    matrix: Any   # SymPy Matrix or NumPy array
    caption: str = ""


@dataclass(frozen=True)
class Figure:
    """A diagram drawn from the engine's data: TikZ for LaTeX, SVG for Markdown."""
    tikz: str
    svg: str
    caption: str
    name: str


@dataclass(frozen=True)
class Listing:
    """Reference code printed whole: the source of a module of :mod:`derive.lab.listings`,
    the same file the tests import and compare with PyTorch (named by ``tests``)."""
    name: str          # the module's name in derive.lab.listings
    source: str
    caption: str
    tests: str = ""    # the test file that checks it


@dataclass(frozen=True)
class Measurement:
    """What an experiment measured and how: the stored record's configuration, seed,
    scaling, run time and machine.  Measured, never proved."""
    experiment: str    # the experiment's name (derive lab run NAME)
    what: str          # what was measured, in words
    scale: str         # "quick" or "full"
    scaling: str       # how the run differs from the exercise as posed
    seed: int
    seconds: float
    environment: tuple[tuple[str, str], ...]


Block = (Text | Explanation | Derivation | Check | Answer | Table | MatrixView | Figure
         | Listing | Measurement)

# Part scopes: what kind of answer a part has.
CHECKED, EXPLANATION, OUT_OF_SCOPE = "checked", "explanation", "out-of-scope"
# Parts answered by reference code (a tested listing) or by a measurement.
CODE, EXPERIMENT = "code", "experiment"
# The mark of a part whose only evidence is agreeing cross-checks.
CROSS_CHECKED = "cross-checked"


@dataclass(frozen=True)
class Part:
    """One part of an exercise.  ``solve`` receives a :class:`~derive.book.sheet.Sheet` and
    fills it with blocks.  ``scope`` is what the part asks: a checked result (``CHECKED``),
    an explanation (``EXPLANATION``: "explain why", "discuss"; the part is marked as an
    explanation whatever checked facts support it), an implementation (``CODE``: a listing
    tested against PyTorch), a measurement (``EXPERIMENT``: stored results of a seeded
    run), or something the engine cannot do (``OUT_OF_SCOPE``, with ``reason`` saying why;
    ``solve`` may still add what it can)."""
    label: str                      # "a", "b", ... or "" for a single-part exercise
    prompt: str                     # restated in our own words
    solve: Callable[[Any], None] | None = None
    scope: str = CHECKED
    reason: str = ""


@dataclass(frozen=True)
class Problem:
    id: str                 # "practice-2", "8.4", "theory-3", "formula-2.4"
    set: str                # one of SETS' keys
    title: str
    statement: str          # restated in our own words
    parts: tuple[Part, ...]
    order: float = 0.0      # position inside the set
    source: str = ""        # where it comes from, e.g. "Chapter 8, exercise 8.4"


@dataclass(frozen=True)
class PartResult:
    part: Part
    blocks: tuple[Block, ...]
    error: str = ""         # set when solving raised; the part is then 'error'

    @property
    def checked_blocks(self) -> list[Derivation | Check]:
        return [b for b in self.blocks if isinstance(b, (Derivation, Check))]

    @property
    def claims(self) -> list[Derivation | Check]:
        """The displayed, checked statements (derivations and claims, not cross-checks)."""
        return [b for b in self.checked_blocks
                if not (isinstance(b, Check) and b.is_cross_check)]

    @property
    def cross_checks(self) -> list[Check]:
        return [b for b in self.checked_blocks if isinstance(b, Check) and b.is_cross_check]

    @property
    def status(self) -> str:
        """The mark of what the part asks: 'error' or 'refuted' when anything in it failed;
        otherwise the part's scope when it is not a checked result ('out-of-scope',
        'explanation', 'code', 'experiment'); otherwise the weakest
        claim ('proved', 'tested', 'unknown'); a part whose only evidence is cross-checks is
        'cross-checked'; a part with no checked evidence is an 'explanation'."""
        if self.error:
            return "error"
        if any(b.status is Status.REFUTED for b in self.checked_blocks):
            return "refuted"
        if self.part.scope in (OUT_OF_SCOPE, EXPLANATION, CODE, EXPERIMENT):
            return self.part.scope
        claims = self.claims
        if claims:
            return weakest(b.status for b in claims).value
        numeric = [c for c in self.cross_checks if c.kind == "numeric"]
        if numeric:
            w = weakest(c.status for c in numeric)
            return CROSS_CHECKED if w in (Status.PROVED, Status.TESTED) else w.value
        return EXPLANATION


@dataclass(frozen=True)
class ProblemResult:
    problem: Problem
    parts: tuple[PartResult, ...]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.parts:
            out[p.status] = out.get(p.status, 0) + 1
        return out


def flatten_steps(blocks: Sequence[Block]) -> list[tuple[str, Verdict]]:
    """Every verdict in ``blocks`` with a short description (for indexes and mutation)."""
    out: list[tuple[str, Verdict]] = []
    for b in blocks:
        if isinstance(b, Derivation):
            out.extend((s.why, s.verdict) for s in b.steps if s.verdict is not None)
        elif isinstance(b, Check):
            out.append((b.why, b.verdict))
    return out
