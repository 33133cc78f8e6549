"""The authoring surface of a problem: a solve function writes on a :class:`Sheet`.

Every checked line goes through the checker as it is written, so a solution cannot contain
an unchecked step; prose goes in as :class:`Text` or, when it argues something the engine
does not check, as an :class:`Explanation` that names the checked facts it rests on.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Callable, Iterable, Sequence

from derive.book.model import (
    Answer, Block, Check, Derivation, DerivationStep, Explanation, Figure, Listing, MatrixView,
    Measurement, Table, Text,
)
from derive.check.verdict import Status, Verdict


class Sheet:
    """Collects the blocks of one part's solution.

    >>> import sympy
    >>> s = Sheet()
    >>> H = sympy.Symbol("H", integer=True, positive=True)
    >>> c = s.claim(written("H + H"), 2 * H, why="collect terms")
    >>> c.verdict.status.value
    'proved'

    SymPy simplifies as it builds (``H + H`` is ``2*H`` at once), so a step meant to show
    a rewriting is built unevaluated, with :func:`written`; a claim or step whose two sides
    print the same is refused (:func:`_require_different`).
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
        if not _blank(lhs):
            _require_different(lhs, exprs[0], "the left side and the first step", name=True)
        for i, (a, b) in enumerate(zip(exprs, exprs[1:]), start=1):
            _require_different(a, b, f"steps {i} and {i + 1}")
        verdicts = check_chain(exprs, assume=assumptions)
        out = [DerivationStep(steps[0][0], steps[0][1], None)]
        out += [DerivationStep(e, why, v) for (e, why), v in zip(steps[1:], verdicts)]
        return self._add(Derivation(lhs, tuple(out), assumptions, label))

    def claim(self, lhs: Any, rhs: Any, *, why: str = "", assume: Sequence[str] = (),
              label: str = "") -> Check:
        """Check ``lhs == rhs`` symbolically (proved, refuted, or tested)."""
        from derive.check.engine import check_exprs
        _require_different(lhs, rhs, "the two sides of the claim")
        verdict = check_exprs(lhs, rhs, assume=self.assume + tuple(assume))
        return self._add(Check(lhs, rhs, verdict, why, "claim", label))

    def numeric(self, value: Any, reference: Any, *, method: str, why: str = "",
                tol: float | None = None, label: str = "") -> Check:
        """Cross-check an engine value against an independent computation (``method``
        names it: "brute-force enumeration", "NumPy direct loops", "PyTorch conv2d", a
        published table...).  Exact values must be equal (a proof by evaluation); floats
        must agree within ``tol`` (numerically tested)."""
        verdict = compare_values(value, reference, method=method, tol=tol)
        return self._add(Check(value, reference, verdict, why, "numeric", label,
                               method=method, tol=tol))

    def numeric_if_installed(self, package: str, value: Any,
                             reference: Callable[[ModuleType], Any], *, method: str,
                             why: str = "", tol: float | None = None,
                             label: str = "") -> Check:
        """Cross-check ``value`` against ``reference(module)``, a computation with an
        optional package (``"torch"``), when that package is installed.

        The page is the same either way (a book depends on its sources, not on what the
        machine has): the row says the comparison is made where the package is installed,
        and it is never counted among the agreeing cross-checks.  Where it is installed and
        the two disagree, the row is refuted and the build fails.

        >>> s = Sheet()
        >>> c = s.numeric_if_installed("math", 2.0, lambda m: m.sqrt(4), method="math.sqrt")
        >>> c.kind, c.verdict.status.value, c.requires
        ('optional', 'tested', 'math')
        """
        import importlib
        try:
            module = importlib.import_module(package)
        except ImportError:
            module = None
        if module is None:
            verdict = Verdict(Status.UNKNOWN, f"{method}: {package} is not installed here",
                              instances=0)
            ref = None
        else:
            ref = reference(module)
            verdict = compare_values(value, ref, method=method, tol=tol)
        return self._add(Check(value, ref, verdict, why, "optional", label, package,
                               method=method, tol=tol))

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

    # -- code and experiments --------------------------------------------------------------
    def listing(self, name: str, caption: str, *, tests: str = "") -> Listing:
        """Print the reference implementation ``derive/lab/listings/NAME.py`` whole (the file
        the tests in ``tests`` import and compare with PyTorch), never a copy of it."""
        from derive.lab.listings import source
        return self._add(Listing(name, source(name), caption, tests))

    def measured(self, experiment: str, what: str) -> dict[str, Any]:
        """Say what experiment ``experiment`` measured and how (seed, scale, machine), from
        its stored results, and return the stored record for tables and plots.  Building the
        book runs no experiment: ``derive lab run`` refreshes the stored results."""
        from derive.lab.runner import load
        record = load(experiment)
        env = tuple(sorted((str(k), str(v)) for k, v in record["environment"].items()))
        self._add(Measurement(experiment, what, record["scale"], record["scaling"],
                              int(record["config"]["seed"]), float(record["seconds"]), env))
        return record

    def add(self, block: Block) -> Block:
        """Add a block built and checked elsewhere in the engine (e.g. a derivation whose
        steps were proved by the re-indexing rules).  Every step after the first must carry
        its verdict: a block without evidence cannot enter a solution this way."""
        if isinstance(block, Derivation):
            if any(s.verdict is None for s in block.steps[1:]):
                raise TypeError("every derivation step after the first needs a verdict")
            if not _blank(block.lhs):
                _require_different(block.lhs, block.steps[0].expr,
                                   "the left side and the first step", name=True)
            for i, (a, b) in enumerate(zip(block.steps, block.steps[1:]), start=1):
                _require_different(a.expr, b.expr, f"steps {i} and {i + 1}")
        elif isinstance(block, Check):
            if not isinstance(block.verdict, Verdict):
                raise TypeError("a check needs its verdict")
            if not block.is_cross_check:
                _require_different(block.lhs, block.rhs, "the two sides of the claim")
        elif not isinstance(block, (Text, Explanation, Answer, Table, MatrixView, Figure,
                                    Listing, Measurement)):
            raise TypeError(f"not a book block: {block!r}")
        return self._add(block)

    def _add(self, block: Any) -> Any:
        self.blocks.append(block)
        return block


def written(text: str) -> Any:
    """An expression in the claim language exactly as written (SymPy simplifies nothing),
    for a displayed step that shows a rewriting.  Its symbols are the claim language's
    (positive integers unless stated), the same as :func:`derive.symbols.sym` makes.

    >>> written("H + H"), written("3*3*C*C")
    (H + H, 3*3*C*C)
    """
    import sympy

    from derive.check.parse import parse_expression
    from derive.render.prose import _tidy
    with sympy.evaluate(False):
        return _tidy(parse_expression(text))


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _require_different(a: Any, b: Any, what: str, *, name: bool = False) -> None:
    """A displayed equation relates two different expressions: one whose sides print the
    same ("24 = 24", "i = i") proves nothing to a reader, so it cannot enter a solution.
    A comparison of two computations of one value is a cross-check (:meth:`Sheet.numeric`),
    shown in a table, not as an equation."""
    from derive.errors import ProblemError
    from derive.render.latex import name_tex, value_tex
    shown = name_tex(a) if name else value_tex(a)
    if shown == value_tex(b):
        raise ProblemError(f"{what} print the same ({shown}); a displayed equation must "
                           f"relate two different expressions (use Sheet.numeric for a "
                           f"cross-check of two computations)")


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
        # The size of a rounding residue differs between machines; the tolerance does not.
        return Verdict(Status.TESTED, f"{method}: agree to within {limit:.0e}",
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
