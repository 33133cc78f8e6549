"""Shared timing helpers for the benchmark scripts."""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable


def measure(fn: Callable[[], Any], repeats: int) -> list[float]:
    """Wall-clock seconds of ``repeats`` calls of ``fn``."""
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def row(figure: str, samples: list[float], baseline: str | None = None,
        baseline_samples: list[float] | None = None) -> dict[str, Any]:
    """One result row; ``ratio`` is this median over the baseline's median."""
    med = statistics.median(samples)
    ratio = None
    if baseline_samples:
        ratio = med / statistics.median(baseline_samples)
    return {"figure": figure, "median_s": med, "min_s": min(samples), "max_s": max(samples),
            "baseline": baseline, "ratio": ratio}


def print_table(rows: list[dict[str, Any]]) -> None:
    print(f"{'figure':58} {'median':>10} {'min':>10} {'max':>10}  ratio vs baseline")
    for r in rows:
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}x {r['baseline']}"
        print(f"{r['figure'][:58]:58} {_fmt(r['median_s'])} {_fmt(r['min_s'])} "
              f"{_fmt(r['max_s'])}  {ratio}")


def _fmt(s: float) -> str:
    if s >= 1:
        return f"{s:9.2f}s"
    if s >= 1e-3:
        return f"{s * 1e3:8.1f}ms"
    return f"{s * 1e6:8.1f}us"
