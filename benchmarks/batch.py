"""Batch grading throughput: 1,000 distinct claims graded by ``grade_batch`` on 2 worker
processes, against the same claims graded one after another in this process (same run).

The claims mix proofs by canonical form, floor/ceiling lemmas and refutations; every claim
is different (a shifted constant), so no cache answers for another claim.  The 2-worker
figure includes starting the pool.  ``ratio`` is the 2-worker time over the one-process
time (below 1 is a speed-up); the figure names give claims per second and the machine's
load average, since a second worker only helps when a second core is free.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from typing import Any

from benchmarks._timing import measure, print_table, row


def claims(n: int) -> list[str]:
    """``n`` distinct JSON lines, four kinds of claim in turn."""
    out = []
    for i in range(n):
        k = i // 4 + 1
        text = [
            f"(a + {k})**2 == a**2 + {2 * k}*a + {k * k}",
            f"(a + {k})**2 == a**2 + {k * k}",
            f"ceiling((a + {k})/b) == floor((a + {k} + b - 1)/b)",
            f"floor(a/b) + floor({k + 1}/b) == floor((a + {k + 1})/b)",
        ][i % 4]
        out.append(json.dumps({"id": i, "claim": text}))
    return out


def _grade(lines: list[str], jobs: int) -> None:
    from derive.grade.batch import grade_batch

    results = list(grade_batch(lines, jobs=jobs, progress=False))
    assert len(results) == len(lines)
    assert not any(r["verdict"] == "error" for r in results), "a benchmark claim failed"


def run(quick: bool = False) -> list[dict[str, Any]]:
    n = 100 if quick else 1_000
    repeats = 3
    lines = claims(n)
    _grade(claims(8), 1)   # imports and first-call costs are not throughput
    one: list[float] = []
    two: list[float] = []
    for _ in range(repeats):   # interleaved, so both see the same machine load
        one += measure(lambda: _grade(lines, 1), 1)
        two += measure(lambda: _grade(lines, 2), 1)
    rate1, rate2 = n / statistics.median(one), n / statistics.median(two)
    load = _load()
    return [
        row(f"batch {n} claims, 2 workers: {rate2:.0f}/s{load}", two,
            f"one process ({rate1:.0f} claims/s)", one),
        row(f"batch {n} claims, one process: {rate1:.0f}/s", one),
    ]


def _load() -> str:
    """The machine's load, which bounds any speed-up from a second worker."""
    try:
        return f" (load {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores)"
    except (AttributeError, OSError):  # pragma: no cover - not on every platform
        return ""


if __name__ == "__main__":
    print_table(run(quick="--quick" in sys.argv))
