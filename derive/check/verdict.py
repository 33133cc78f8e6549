"""Verdicts: what the checker concluded about a claim, and how.

A verdict never overstates: ``PROVED`` carries the name of the symbolic argument,
``REFUTED`` carries a counterexample inside the declared domains with both sides' values,
``TESTED`` carries the number of agreeing instances and is never shown as a proof.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Iterable


class Status(str, enum.Enum):
    """The five possible outcomes of a check, from strongest to weakest evidence."""

    PROVED = "proved"
    TESTED = "tested"
    UNKNOWN = "unknown"
    REFUTED = "refuted"
    ERROR = "error"

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.value


# Order used to combine several verdicts: the chain is as weak as its weakest step.
_WEAKNESS = {Status.PROVED: 0, Status.TESTED: 1, Status.UNKNOWN: 2, Status.ERROR: 3,
             Status.REFUTED: 4}

EXIT_CODES = {Status.PROVED: 0, Status.REFUTED: 1, Status.TESTED: 3, Status.UNKNOWN: 3,
              Status.ERROR: 2}


def weakest(statuses: Iterable[Status]) -> Status:
    """The weakest status of several (``PROVED`` for none).

    >>> weakest([Status.PROVED, Status.TESTED])
    <Status.TESTED: 'tested'>
    >>> weakest([Status.TESTED, Status.REFUTED, Status.PROVED])
    <Status.REFUTED: 'refuted'>
    """
    out = Status.PROVED
    for s in statuses:
        if _WEAKNESS[s] > _WEAKNESS[out]:
            out = s
    return out


def _plain(value: Any) -> Any:
    """A JSON-friendly form of a number (ints stay ints, rationals become strings)."""
    try:
        import sympy
    except ImportError:  # pragma: no cover
        sympy = None
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if sympy is not None and isinstance(value, sympy.Basic):
        if value.is_Integer:
            return int(value)
        return str(value)
    from fractions import Fraction
    if isinstance(value, Fraction):
        return int(value) if value.denominator == 1 else str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value) if not isinstance(value, (float, str)) else value


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one claim.

    ``counterexample`` maps symbol names to values (inside their domains); ``lhs_value`` and
    ``rhs_value`` are both sides there.  ``instances`` counts the sampled instances that were
    evaluated (for ``TESTED`` all agreed).  ``method`` names the argument for ``PROVED``
    (e.g. ``"canonical form"``, ``"lemma ceiling-as-floor (b >= 1)"``), the way the
    counterexample was found for ``REFUTED``, or the reason for ``UNKNOWN``/``ERROR``.
    """

    status: Status
    method: str = ""
    claim: str = ""
    counterexample: dict[str, Any] | None = None
    lhs_value: Any = None
    rhs_value: Any = None
    instances: int = 0
    detail: str = ""
    seconds: float = 0.0
    lemmas: tuple[str, ...] = field(default_factory=tuple)
    timed_out: bool = False   # the time budget ran out: the outcome depends on the machine

    @property
    def proved(self) -> bool:
        return self.status is Status.PROVED

    @property
    def refuted(self) -> bool:
        return self.status is Status.REFUTED

    @property
    def undefined_side(self) -> bool:
        """A refutation by a point where a side has no value (a zero divisor...)."""
        return self.status is Status.REFUTED and "undefined" in (
            str(self.lhs_value), str(self.rhs_value))

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (``verdict``, ``method``, ``counterexample``, ...)."""
        return {
            "verdict": self.status.value,
            "claim": self.claim,
            "method": self.method,
            "counterexample": (None if self.counterexample is None else
                               {k: _plain(v) for k, v in sorted(self.counterexample.items())}),
            "lhs_value": _plain(self.lhs_value),
            "rhs_value": _plain(self.rhs_value),
            "instances": self.instances,
            "lemmas": list(self.lemmas),
            "timed_out": self.timed_out,
            "detail": self.detail,
        }

    def counterexample_text(self) -> str:
        """``D=2, H=5, K=3`` (sorted by name), or an empty string."""
        if not self.counterexample:
            return ""
        return ", ".join(f"{k}={_plain(v)}" for k, v in sorted(self.counterexample.items()))

    def explain(self) -> str:
        """The verdict in plain words, as the command line prints it."""
        head = {
            Status.PROVED: f"PROVED ({self.method})",
            Status.REFUTED: (f"REFUTED: {self.method}" if self.undefined_side else "REFUTED"),
            Status.TESTED: (f"TESTED, not proved: {self.instances} sampled instances agree"
                            + (f" ({self.method})" if self.method else "")),
            Status.UNKNOWN: f"UNKNOWN: {self.method}",
            Status.ERROR: f"ERROR: {self.method}",
        }[self.status]
        lines = [head]
        if self.claim:
            lines.insert(0, f"claim: {self.claim}")
        if self.status is Status.REFUTED:
            lines.append(f"counterexample: {self.counterexample_text()}")
            lines.append(f"  left side  = {_plain(self.lhs_value)}")
            lines.append(f"  right side = {_plain(self.rhs_value)}")
            if self.method and not self.undefined_side:
                lines.append(f"  (found by {self.method})")
        if self.lemmas and self.status is Status.PROVED:
            lines.append("lemmas: " + "; ".join(self.lemmas))
        if self.detail:
            lines.append(self.detail)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.explain()

    # Notebook display (a check mark per outcome).
    def _repr_html_(self) -> str:  # pragma: no cover - exercised in notebook tests
        import html
        mark = {Status.PROVED: "&#10004;", Status.TESTED: "&#8776;", Status.REFUTED: "&#10008;",
                Status.UNKNOWN: "?", Status.ERROR: "!"}[self.status]
        body = html.escape(self.explain()).replace("\n", "<br>")
        return f"<div class='derive-verdict'><b>{mark}</b> {body}</div>"
