"""Latency of ``derive verify``: warm (in process) and cold (new process), against a naive
``simplify(lhs - rhs) == 0`` on the same claims and ``python -c "import sympy"``."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from typing import Any

from benchmarks._timing import measure, print_table, row

CLAIMS = [
    "ceiling(a/b) == floor((a + b - 1)/b)",
    "floor(floor(q/a)/b) == floor(q/(a*b))",
    "q == s*floor(q/s) + Mod(q, s)",
    "(C*k**2 + C*M)/(C*M*k**2) == 1/M + 1/k**2",
    "floor((H + 2*P - D*(K-1) - 1)/S) + 1 == floor((H + 2*P - D*(K-1) - 1 + S)/S)",
    "floor((H + 2*P - K)/S) + 1 == floor((H + 2*P - D*(K-1) - 1)/S) + 1",
    "floor(a/b) + floor(c/b) == floor((a + c)/b)",
    "ceiling(a/b) == floor(a/b) + 1",
    "Sum(k, (k, 1, n)) == n*(n + 1)/2",
]


def _warm(claim: str) -> float:
    from derive.check.engine import check_claim
    from derive.check.claim import Claim
    c = Claim.parse(claim)
    t = time.perf_counter()
    check_claim(c)   # uncached path: every call does the full work
    return time.perf_counter() - t


def _naive(claim: str) -> tuple[float, bool]:
    import sympy
    from derive.check.parse import parse_claim
    lhs, rhs = parse_claim(claim)
    t = time.perf_counter()
    ok = sympy.simplify(lhs - rhs) == 0
    return time.perf_counter() - t, ok


def run(quick: bool = False) -> list[dict[str, Any]]:
    reps = 3 if quick else 7
    _warm(CLAIMS[0])  # import and first-call costs are the cold figure's business
    warm = [statistics.median([_warm(c) for _ in range(reps)]) for c in CLAIMS]
    naive_runs = [[_naive(c) for _ in range(max(1, reps // 2))] for c in CLAIMS]
    naive = [statistics.median([t for t, _ in runs]) for runs in naive_runs]
    naive_proved = sum(runs[0][1] for runs in naive_runs)
    from derive.check.engine import verify
    ours_proved = sum(verify(c).proved for c in CLAIMS)
    cold_claims = CLAIMS[:3] if quick else CLAIMS
    cold = []
    for c in cold_claims:
        cold += measure(lambda c=c: subprocess.run(
            [sys.executable, "-m", "derive", "verify", c], capture_output=True), 1 if quick else 3)
    sympy_import = measure(lambda: subprocess.run(
        [sys.executable, "-c", "import sympy"], capture_output=True), 3 if quick else 7)
    return [
        row(f"verify warm, median over {len(CLAIMS)} claims ({ours_proved} proved)", warm,
            f"naive simplify ({naive_proved} proved)", naive),
        row(f"naive simplify(lhs - rhs) == 0, same claims", naive),
        row("verify cold CLI (new process)", cold, "python -c 'import sympy'", sympy_import),
        row("python -c 'import sympy'", sympy_import),
    ]


if __name__ == "__main__":
    print_table(run(quick="--quick" in sys.argv))
