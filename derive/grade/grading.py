"""Grading one submission: a verdict a grader uses, a score, and feedback in words.

Design rule: every verdict comes from the checker.  The derivation is checked step by step
(:func:`derive.grade.report.grade`); the first expression is checked against ``start`` and
the last against ``expect`` with the same assumptions and given values; a named mistake is
one the checker proves the student's line equal to (:mod:`derive.grade.mistakes`).

The verdicts:

* ``proved``: every step proved, and the answer equals ``expect`` (when given);
* ``wrong answer``: every step proved, but the answer differs from ``expect`` (shown at a
  point where they differ);
* ``refuted``: a step is false (the first wrong line, as in a derivation report), or the
  first expression is not ``start``;
* ``needs review``: a step or the answer could only be tested, was undecided, or ran out
  of its time budget: a grader reads it;
* ``error``: bad input (malformed JSON, unknown keys, unreadable mathematics).

Scores: full ``points`` when proved; otherwise, with ``partial="steps"`` the share of the
checks (steps, then the answer) that hold before the first that fails, with
``partial="none"`` nothing; ``needs review`` has no score (``None``) until a grader gives
one, ``error`` scores 0.

>>> from derive.grade.submission import validate
>>> r = grade_submission(validate({"id": 1, "text": "a\\na", "expect": "a + 1"}, 1))
>>> r["verdict"], r["score"]
('wrong answer', 0.5)
"""

from __future__ import annotations

from typing import Any, Sequence

from derive.check.verdict import Status, Verdict, _plain
from derive.errors import DeriveError, InputError
from derive.grade.submission import Submission

VERDICTS = ("proved", "wrong answer", "refuted", "needs review", "error")
PARTIAL_CREDIT = ("steps", "none")


def grade_submission(sub: Submission, assume: Sequence[str] = (), budget: float | None = None,
                     partial: str = "steps") -> dict[str, Any]:
    """The graded line: ``verdict``, ``score``, ``feedback``, ``first_wrong_line`` and the
    derivation report's fields (``steps``, ``status`` ...)."""
    from derive.grade.reader import read_text, split_assumptions
    from derive.grade.report import grade

    if partial not in PARTIAL_CREDIT:
        from derive.errors import ConfigurationError
        raise ConfigurationError(f"got partial={partial!r}; use one of "
                                 f"{', '.join(PARTIAL_CREDIT)}")
    in_force = tuple(a for text in (*assume, *sub.assume) for a in split_assumptions(text)) \
        + sub.given
    text = sub.text
    if sub.kind == "claim" and sub.fmt != "latex":
        from derive.grade.reader import claim_text
        text = claim_text(text)        # a claim is 'lhs == rhs': a single '=' is refused
    derivation = read_text(text, sub.fmt, source=f"line {sub.line}")
    for key in ("start", "expect"):     # a reference that cannot be read is bad input
        if getattr(sub, key) is not None:
            try:
                read_text(getattr(sub, key), sub.fmt, source=f"line {sub.line}")
            except DeriveError as exc:
                raise InputError(f"line {sub.line}: \"{key}\": {exc}") from None
    report = grade(derivation, in_force, budget)
    out = report.to_dict()
    out["status"] = out.pop("verdict")
    grader = _Grader(sub, derivation, report, in_force, budget)
    verdict, feedback, wrong_line, passed, total = grader.judge()
    out.update({
        "student": sub.student,
        "verdict": verdict,
        "feedback": feedback,
        "first_wrong_line": wrong_line,
        "points": sub.points,
        "checks": [passed, total],
        "score": _score(verdict, passed, total, sub.points, partial),
        "answer": grader.answer,
        "mistake": grader.mistake,
    })
    return out


def rescore(result: dict[str, Any], partial: str) -> dict[str, Any]:
    """``result`` scored again under another partial-credit rule (scores are worked out
    from the verdict and the ``checks`` that held, so no checking is repeated)."""
    if "checks" not in result or result.get("verdict") not in VERDICTS:
        return result
    passed, total = result["checks"]
    return {**result, "score": _score(result["verdict"], passed, total,
                                      result.get("points", 1.0), partial)}


def _score(verdict: str, passed: int, total: int, points: float, partial: str) -> float | None:
    if verdict == "proved":
        return points
    if verdict == "needs review":
        return None
    if verdict == "error" or partial == "none" or total == 0:
        return 0.0
    return round(points * passed / total, 4)


class _Grader:
    """The checks of one submission beyond its steps: start, answer, feedback."""

    def __init__(self, sub: Submission, derivation: Any, report: Any,
                 in_force: tuple[str, ...], budget: float | None) -> None:
        self.sub, self.report, self.in_force, self.budget = sub, report, in_force, budget
        self.entries = derivation.entries
        self.definitions = {d.name: d for d in report.definitions}
        self.answer: dict[str, Any] | None = None
        self.mistake: str | None = None          # the catalogue's name, when one is named

    # -- the verdict -------------------------------------------------------------------
    def judge(self) -> tuple[str, str, int | None, int, int]:
        """(verdict, feedback, first wrong line, checks passed before the first failure,
        checks in all)."""
        steps = self.report.steps
        total = len(steps) + (self.sub.expect is not None) + (self.sub.start is not None)
        start_ok = 0
        if self.sub.start is not None and self.entries:
            first = self.entries[0]
            v = self._compare(self._resolved(first.expr), self.sub.start)
            if v.status is Status.REFUTED:
                return ("refuted", f"Line {first.line}: " + self._difference(
                    v, self._resolved(first.expr), self._reference(self.sub.start),
                    ("your first line", "the quantity to start from")), first.line, 0, total)
            if v.status is not Status.PROVED:
                return ("needs review", f"Line {first.line}: whether it is the quantity to "
                        f"start from could not be decided ({v.method}); a grader should read "
                        "it.", first.line, 0, total)
            start_ok = 1
        valid = start_ok
        for s in steps:
            if s.status is Status.REFUTED:
                return ("refuted", self._step_feedback(s), s.line, valid, total)
            if s.status is not Status.PROVED:
                return ("needs review", self._review_feedback(s), s.line, valid, total)
            valid += 1
        if self.sub.expect is None:
            if not steps:
                return ("needs review", "Nothing was checked: write at least two expressions "
                        "(or give the expected answer with \"expect\").", None, 0, total)
            return ("proved", "The step is proved." if len(steps) == 1 else
                    f"All {len(steps)} steps are proved.", None, valid, total)
        if not self.entries:
            return ("needs review", "No answer was written.", None, 0, total)
        last = self.entries[-1]
        final = self._resolved(last.expr)
        v = self._compare(final, self.sub.expect)
        self.answer = {"expect": self.sub.expect, **_brief(v)}
        if v.status is Status.PROVED:
            shown = ("The step is proved, and" if len(steps) == 1 else
                     f"All {len(steps)} steps are proved, and" if steps else "The")
            return ("proved", f"{shown} the answer equals the expected one.", None, valid + 1,
                    total)
        if v.status is Status.REFUTED:
            holds = "every step holds, but " if steps else ""
            return ("wrong answer", f"Line {last.line}: {holds}the answer is not the expected "
                    "one. " + self._difference(
                        v, final, self._reference(self.sub.expect),
                        ("your answer", "the expected answer")),
                    last.line, valid, total)
        return ("needs review", f"Line {last.line}: whether the answer equals the expected one "
                f"could not be decided ({v.method}); a grader should read it.", last.line,
                valid, total)

    # -- checks ------------------------------------------------------------------------
    def _resolved(self, expr: Any) -> Any:
        import sympy

        from derive.grade.report import _substitute
        return _substitute(expr, self.definitions, sympy)

    def _reference(self, text: str) -> Any:
        from derive.grade.reader import read_text

        entries = read_text(text, self.sub.fmt, source=f"line {self.sub.line}").entries
        return entries[-1].expr

    def _compare(self, written: Any, reference_text: str) -> Verdict:
        from derive.check.engine import check_exprs
        from derive.errors import DeriveError

        reference = self._reference(reference_text)     # checked readable at validation
        try:
            return check_exprs(written, reference, self.in_force, self.budget)
        except DeriveError as exc:
            return Verdict(Status.ERROR, str(exc))

    # -- words -------------------------------------------------------------------------
    def _step_feedback(self, s: Any) -> str:
        v = s.verdict
        head = f"Line {s.line}"
        if v.undefined_side:
            return f"{head}: {v.method}; a line has no value there."
        before = self._resolved(s.previous_expr)
        after = self._resolved(s.expr)
        label = "the left side" if s.previous_line == s.line else f"line {s.previous_line}"
        # a step's verdict compares (previous, this): the written value is the right side
        return f"{head}: " + self._difference(v, after, before, ("your line", label),
                                               written_first=False)

    def _difference(self, v: Verdict, written: Any, reference: Any, labels: tuple[str, str],
                    written_first: bool = True) -> str:
        """The named mistake, or the difference in words at the counterexample (``v``
        compared ``written`` with ``reference``, in that order when ``written_first``)."""
        # a mistake is named from the expressions as written: with every symbol given a
        # value, any two formulas that happen to agree there would match
        symbolic = bool(getattr(written, "free_symbols", None))
        context = tuple(a for a in self.in_force if not (symbolic and a in self.sub.given))
        mistake = _name_mistake(reference, written, context, self.budget)
        if mistake is not None:
            self.mistake = mistake.name
            return f"Common mistake: {mistake.title}. {mistake.feedback}"
        point = dict(sorted((v.counterexample or {}).items()))
        mine, theirs = (v.lhs_value, v.rhs_value) if written_first else (v.rhs_value,
                                                                           v.lhs_value)
        return _in_words(point, _plain(mine), _plain(theirs), *labels) + "."

    @staticmethod
    def _review_feedback(s: Any) -> str:
        v = s.verdict
        if v.status is Status.TESTED:
            return (f"Line {s.line}: it agrees with line {s.previous_line} on {v.instances} "
                    "tested instances, but no proof was found; a grader should read it.")
        return f"Line {s.line}: it could not be checked ({v.method}); a grader should read it."


def _brief(v: Verdict) -> dict[str, Any]:
    return {"status": v.status.value, "method": v.method,
            "counterexample": None if v.counterexample is None else
            {k: _plain(x) for k, x in sorted(v.counterexample.items())},
            "value": _plain(v.lhs_value), "expected_value": _plain(v.rhs_value)}


def _name_mistake(correct: Any, written: Any, assume: Sequence[str],
                  budget: float | None) -> Any:
    try:
        from derive.grade.mistakes import name_mistake
    except ImportError:  # pragma: no cover - the catalogue ships with the package
        return None
    try:
        return name_mistake(correct, written, assume, budget)
    except Exception:  # naming is a courtesy: the verdict stands without it
        return None


def _in_words(point: dict[str, Any], written: Any, reference: Any, written_label: str,
              reference_label: str) -> str:
    from derive.grade.mistakes import in_words
    return in_words(point, written, reference, written_label, reference_label)
