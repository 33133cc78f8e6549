"""The whole problem library: ``derive check`` cold (a new process, no cache) on every core,
against the same command with ``--jobs 1`` (taken in turn, so that the machine's load falls
on both alike) and against the problems solved again in a warm process (SymPy's caches and
the verdict cache full)."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

from benchmarks._timing import print_table, row


def _cold_check(*extra: str) -> float:
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "derive", "check", *extra],
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"derive check failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return elapsed


def _warm_solve_all() -> float:
    from derive.problems import discover, load, solve
    files = discover("problems")
    problems = [load(pf) for pf in files]
    for p in problems:   # first pass fills the caches
        solve(p)
    t = time.perf_counter()
    for p in problems:
        solve(p)
    return time.perf_counter() - t


def run(quick: bool = False) -> list[dict[str, Any]]:
    cold, sequential = [], []
    for _ in range(1 if quick else 3):
        cold.append(_cold_check())
        sequential.append(_cold_check("--jobs", "1"))
    warm = [_warm_solve_all() for _ in range(1 if quick else 2)]
    from derive.pool import default_jobs
    from derive.problems import discover
    n = len(discover("problems"))
    return [
        row(f"derive check, whole library cold, {default_jobs()} jobs ({n} problems; "
            f"target < 30 s)", cold, "derive check --jobs 1", sequential),
        row("derive check --jobs 1, whole library cold", sequential,
            "same problems re-solved in a warm process", warm),
        row("whole library re-solved in a warm process", warm),
    ]


if __name__ == "__main__":
    print_table(run(quick="--quick" in sys.argv))
