"""Residual path expansion: materialized expansions for n = 4, 8, 12 (SymPy's expansion of
the non-commuting product plus the enumerated paths it is compared with) against the path
enumeration alone, and path counts by length for n = 1000 from the closed form against
SymPy's own binomials.  SymPy's cache is cleared before every timed expansion."""

from __future__ import annotations

import sys
from typing import Any

from benchmarks._timing import measure, print_table, row


def _expand(n: int) -> None:
    from sympy.core.cache import clear_cache
    from derive.conv.residual import expand_residual
    clear_cache()       # SymPy memoizes expand: time the work, not a cache hit
    e = expand_residual(n)
    if not e.agrees():  # pragma: no cover - a benchmark that measures a wrong result is void
        raise AssertionError(f"expansion and path enumeration disagree for n={n}")


def _enumerate(n: int) -> None:
    from sympy.core.cache import clear_cache
    from derive.conv.residual import paths
    clear_cache()
    for p in paths(n):
        p.term


def _counts(n: int) -> None:
    from derive.conv.residual import path_count, path_counts
    if sum(path_counts(n).values()) != path_count(n):  # pragma: no cover
        raise AssertionError(f"counts by length do not add up to 2**{n}")


def _sympy_counts(n: int) -> None:
    import sympy
    total = sum(sympy.binomial(n, k) for k in range(n + 1))
    if total != 2 ** n:  # pragma: no cover
        raise AssertionError("SymPy's binomials do not add up")


def _identity() -> None:
    from derive.check.engine import check_claim
    from derive.check.claim import Claim
    from derive.conv.residual import path_count, path_count_by_length
    import sympy
    n = sympy.Symbol("n", integer=True, nonnegative=True)
    k = sympy.Symbol("k", integer=True, nonnegative=True)
    claim = Claim.from_exprs(sympy.Sum(path_count_by_length(n, k), (k, 0, n)), path_count(n),
                             ("n >= 0", "k >= 0"))
    if not check_claim(claim).proved:  # pragma: no cover
        raise AssertionError("the path-count identity was not proved")


def run(quick: bool = False) -> list[dict[str, Any]]:
    import derive.conv.residual  # noqa: F401  (import cost is not the figure)
    _expand(2)
    rows = []
    for n in (4, 8, 12):
        reps = (3 if n < 12 else 1) if quick else (7 if n < 12 else 3)
        full = measure(lambda n=n: _expand(n), reps)
        alone = measure(lambda n=n: _enumerate(n), reps)
        rows.append(row(f"residual expansion n={n}: SymPy expand, {2 ** n} terms, checked "
                        f"against the paths", full, "path enumeration alone", alone))
        rows.append(row(f"path enumeration alone n={n} ({2 ** n} ordered products)", alone))
    reps = 5 if quick else 20
    counts = measure(lambda: _counts(1000), reps)
    naive = measure(lambda: _sympy_counts(1000), max(1, reps // 5))
    rows.append(row("path counts by length n=1000 (closed form, sum = 2^1000)", counts))
    rows.append(row("same counts as sympy.binomial(1000, k), k = 0..1000", naive,
                    "closed form", counts))
    rows.append(row("checker: Sum(binomial(n, k), (k, 0, n)) == 2**n, proved",
                    measure(_identity, 3 if quick else 7)))
    return rows


if __name__ == "__main__":
    print_table(run(quick="--quick" in sys.argv))
