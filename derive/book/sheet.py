"""The authoring surface of a problem: a solve function writes on a :class:`Sheet`.

Every checked line goes through the checker as it is written, so a solution cannot contain
an unchecked step; prose goes in as :class:`Text` or, when it argues something the engine
does not check, as an :class:`Explanation` that names the checked facts it rests on.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from derive.book.model import (
    Answer, Block, Check, Derivation, DerivationStep, Explanation, Figure, MatrixView, Table,
    Text,
)
from derive.check.verdict import Status, Verdict


class Sheet:
    """Collects the blocks of one part's solution.

    >>> import sympy
    >>> s = Sheet()
    >>> H = sympy.Symbol("H", integer=True, positive=True)
    >>> c = s.claim(H + H, 2 * H, why="collect terms")
    >>> c.verdict.status.value
    'proved'
    """

    def __init__(self, assume: Sequence[str] = ()) -> None:
        self.blocks: list[Block] = []
        self.assume: tuple[str, ...] = tuple(assume)

    # -- prose ---------------------------------------------------------------------------
    def text(self, text: str) -> Text:
        return self._add(Text(text))

    def explain(self, text: str, rests_on: Iterable[str] = ()) -> Explanation:
        return self._add(Explanation(text, tuple(rests_on)))

    # -- checked blocks -------------------------------------------------------------------
    def derive(self, lhs: Any, steps: Sequence[tuple[Any, str]], *, assume: Sequence[str] = (),
               label: str = "") -> Derivation:
        """A chain ``lhs = steps[0] = steps[1] = ...``; each step is checked against the
        previous one under the sheet's and the given assumptions."""
        from derive.check.derivation import check_chain
        assumptions = self.assume + tuple(assume)
        exprs = [e for e, _ in steps]
        verdicts = check_chain(exprs, assume=assumptions)
        out = [DerivationStep(steps[0][0], steps[0][1], None)]
        out += [DerivationStep(e, why, v) for (e, why), v in zip(steps[1:], verdicts)]
        return self._add(Derivation(lhs, tuple(out), assumptions, label))

    def claim(self, lhs: Any, rhs: Any, *, why: str = "", assume: Sequence[str] = (),
              label: str = "") -> Check:
        """Check ``lhs == rhs`` symbolically (proved, refuted, or tested)."""
        from derive.check.engine import check_exprs
        verdict = check_exprs(lhs, rhs, assume=self.assume + tuple(assume))
        return self._add(Check(lhs, rhs, verdict, why, "claim", label))

    def numeric(self, value: Any, reference: Any, *, method: str, why: str = "",
                tol: float | None = None, label: str = "") -> Check:
        """Cross-check an engine value against an independent computation (``method``
        names it: "brute-force enumeration", "NumPy direct loops", "PyTorch conv2d", a
        published table...).  Exact values must be equal (a proof by evaluation); floats
        must agree within ``tol`` (numerically tested)."""
        verdict = compare_values(value, reference, method=method, tol=tol)
        return self._add(Check(value, reference, verdict, why, "numeric", label))

    def answer(self, label: str, value: Any, unit: str = "") -> Answer:
        return self._add(Answer(label, value, unit))

    # -- displays ------------------------------------------------------------------------
    def table(self, headers: Sequence[str], rows: Iterable[Sequence[Any]],
              caption: str = "") -> Table:
        return self._add(Table(tuple(headers), tuple(tuple(r) for r in rows), caption))

    def matrix(self, name: str, matrix: Any, caption: str = "") -> MatrixView:
        return self._add(MatrixView(name, matrix, caption))

    def figure(self, figure: Figure) -> Figure:
        return self._add(figure)

    def add(self, block: Block) -> Block:
        """Add a block built and checked elsewhere in the engine (e.g. a derivation whose
        steps were proved by the re-indexing rules).  Every step after the first must carry
        its verdict: a block without evidence cannot enter a solution this way."""
        if isinstance(block, Derivation):
            if any(s.verdict is None for s in block.steps[1:]):
                raise TypeError("every derivation step after the first needs a verdict")
        elif isinstance(block, Check):
            if not isinstance(block.verdict, Verdict):
                raise TypeError("a check needs its verdict")
        elif not isinstance(block, (Text, Explanation, Answer, Table, MatrixView, Figure)):
            raise TypeError(f"not a book block: {block!r}")
        return self._add(block)

    def _add(self, block: Any) -> Any:
        self.blocks.append(block)
        return block


def compare_values(value: Any, reference: Any, *, method: str,
                   tol: float | None = None) -> Verdict:
    """Verdict of ``value == reference`` for concrete numbers or arrays.

    >>> compare_values(32, 32, method="brute force").status.value
    'proved'
    >>> compare_values(0.1 + 0.2, 0.3, method="float", tol=1e-12).status.value
    'tested'
    >>> compare_values(31, 32, method="brute force").status.value
    'refuted'
    """
    import numpy as np
    import sympy

    desc = f"{value!s} vs {reference!s}"
    if isinstance(value, (bool, sympy.logic.boolalg.BooleanAtom)) or isinstance(
            reference, (bool, sympy.logic.boolalg.BooleanAtom)):
        same = bool(value) == bool(reference)
        return Verdict(Status.PROVED if same else Status.REFUTED,
                       f"exact evaluation, cross-checked by {method}", claim=desc,
                       counterexample=None if same else {}, lhs_value=bool(value),
                       rhs_value=bool(reference), instances=1)
    try:
        a = np.asarray(_to_numeric(value), dtype=object)
        b = np.asarray(_to_numeric(reference), dtype=object)
    except Exception as exc:  # pragma: no cover - defensive
        return Verdict(Status.ERROR, f"cannot compare values: {exc}", claim=desc)
    if a.shape != b.shape:
        return Verdict(Status.REFUTED, f"shapes differ ({method})", claim=desc,
                       counterexample={}, lhs_value=a.shape, rhs_value=b.shape, instances=1)
    from fractions import Fraction
    exact = all((isinstance(x, (int, Fraction, sympy.Integer, sympy.Rational))
                 and not isinstance(x, bool)) or
                (isinstance(x, sympy.Basic) and x.is_number and x.is_rational)
                for x in list(a.ravel()) + list(b.ravel()))
    if exact and tol is None:
        diff = [i for i, (x, y) in enumerate(zip(a.ravel(), b.ravel()))
                if _exact(x) != _exact(y)]
        if diff:
            i = diff[0]
            return Verdict(Status.REFUTED, method, claim=desc, counterexample={"index": i},
                           lhs_value=a.ravel()[i], rhs_value=b.ravel()[i], instances=a.size)
        return Verdict(Status.PROVED, f"exact evaluation, cross-checked by {method}",
                       claim=desc, instances=max(1, a.size))
    af = np.asarray(a, dtype=float)
    bf = np.asarray(b, dtype=float)
    err = float(np.max(np.abs(af - bf))) if af.size else 0.0
    limit = 1e-9 if tol is None else tol
    if err <= limit:
        return Verdict(Status.TESTED, f"{method}: max abs difference {err:.1e} <= {limit:.0e}",
                       claim=desc, instances=max(1, af.size))
    i = int(np.argmax(np.abs(af - bf)))
    return Verdict(Status.REFUTED, f"{method}: max abs difference {err:.3g} > {limit:.0e}",
                   claim=desc, counterexample={"index": i}, lhs_value=float(af.ravel()[i]),
                   rhs_value=float(bf.ravel()[i]), instances=af.size)


def _to_numeric(v: Any) -> Any:
    import sympy
    if isinstance(v, sympy.MatrixBase):
        return [[v[i, j] for j in range(v.cols)] for i in range(v.rows)]
    if isinstance(v, tuple):
        return list(v)
    return v


def _exact(v: Any) -> Any:
    """An exact SymPy number for an int, Fraction or SymPy rational (no float guessing)."""
    from derive.symbols import as_expr
    return as_expr(v)
