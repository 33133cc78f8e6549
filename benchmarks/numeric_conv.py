"""Benchmark: derive.numeric.conv2d (im2col + matrix product) against PyTorch, same run.

Figures:
  1-2. ResNet-like layer (batch 8, 64 -> 64 channels, 56x56, 3x3, padding 1), numeric.conv2d
       against torch.nn.functional.conv2d, like for like in float32 and in float64; the
       ratio is numeric / torch (lower is better; the target is <= 3 in float32).
  3.   The explicit-loop reference (numeric.conv2d_direct) against numeric.conv2d on a small
       layer (batch 1, 8 -> 8 channels, 16x16, 3x3, padding 1), float64.

Protocol: time.perf_counter; the two contenders run in alternating blocks (one untimed
warm-up call, then ``repeats`` timed calls), several rounds, with a short pause before every
block so that the other library's worker threads, which spin for a while after a call,
have gone idle.  Both libraries use their default thread counts.  Medians are reported.

On a shared machine the medians move with the load; the table also prints the ratio of
the best runs ("min ratio").  NumPy's matrix product is OpenBLAS's, whose kernel is chosen
by CPU detection; on CPUs it does not classify as AVX-512 capable it falls back to AVX2
kernels (the ``OPENBLAS_CORETYPE`` environment variable overrides the choice).

Run ``python benchmarks/numeric_conv.py`` (add ``--quick`` for fewer repeats).
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any, Callable

import numpy as np

from derive import numeric

PAUSE_S = 0.25


def _block(fn: Callable[[], Any], repeats: int) -> list[float]:
    time.sleep(PAUSE_S)
    fn()                                              # warm-up, untimed
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def _compare(figure: str, contender: Callable[[], Any], baseline: Callable[[], Any] | None,
             rounds: int, repeats: int, baseline_name: str) -> dict[str, Any]:
    """Alternate blocks of the contender and the baseline; summarise the timings."""
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(rounds):
        ours += _block(contender, repeats)
        if baseline is not None:
            theirs += _block(baseline, repeats)
    median = statistics.median(ours)
    base = statistics.median(theirs) if theirs else None
    return {
        "figure": figure,
        "median_s": median,
        "min_s": min(ours),
        "max_s": max(ours),
        "baseline": baseline_name if base else None,
        "baseline_median_s": base,
        "ratio": (median / base) if base else None,
        "baseline_min_s": min(theirs) if theirs else None,
    }


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Measure the figures; returns one dict per figure.

    Keys: ``figure``, ``median_s``, ``min_s``, ``max_s`` (the contender's timings),
    ``baseline`` (what it is compared with), ``baseline_median_s``, ``ratio`` (median /
    baseline median) and ``baseline_min_s``; baseline values are None when PyTorch is
    missing.
    """
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:  # pragma: no cover - depends on the environment
        torch = None
    rounds, repeats = (2, 3) if quick else (6, 5)
    results = []
    rng = np.random.default_rng(0)
    x64 = rng.standard_normal((8, 64, 56, 56))
    w64 = rng.standard_normal((64, 64, 3, 3)) / 24.0
    for dtype in (np.float32, np.float64):
        x, w = x64.astype(dtype), w64.astype(dtype)
        baseline = None
        if torch is not None:
            xt, wt = torch.from_numpy(x), torch.from_numpy(w)
            expected = F.conv2d(xt, wt, padding=1).numpy()
            got = numeric.conv2d(x, w, padding=1)
            tol = 1e-3 if dtype == np.float32 else 1e-10
            if not np.allclose(got, expected, rtol=tol, atol=tol):
                raise AssertionError("numeric.conv2d disagrees with torch on the benchmark layer")

            def baseline(xt: Any = xt, wt: Any = wt) -> Any:
                return F.conv2d(xt, wt, padding=1)
        results.append(_compare(
            f"numeric.conv2d, ResNet layer 8x64x56x56 3x3, {np.dtype(dtype).name}",
            lambda x=x, w=w: numeric.conv2d(x, w, padding=1), baseline, rounds, repeats,
            "torch.nn.functional.conv2d"))

    xs = rng.standard_normal((1, 8, 16, 16))
    ws = rng.standard_normal((8, 8, 3, 3))
    results.append(_compare(
        "conv2d_direct (loops), 1x8x16x16 3x3, float64",
        lambda: numeric.conv2d_direct(xs, ws, padding=1),
        lambda: numeric.conv2d(xs, ws, padding=1), rounds, 1 if quick else 3,
        "numeric.conv2d (im2col)"))
    return results


def _table(results: list[dict[str, Any]]) -> str:
    """A fixed-width table; ``min ratio`` compares the best runs (least disturbed by load)."""
    lines = [f"{'figure':<72} {'median ms':>10} {'min ms':>8} {'max ms':>8} "
             f"{'baseline ms':>12} {'ratio':>7} {'min ratio':>9}"]
    for r in results:
        base = "n/a" if r["baseline_median_s"] is None else f"{r['baseline_median_s'] * 1e3:.2f}"
        ratio = "n/a" if r["ratio"] is None else f"{r['ratio']:.2f}"
        best = ("n/a" if not r.get("baseline_min_s")
                else f"{r['min_s'] / r['baseline_min_s']:.2f}")
        lines.append(f"{r['figure']:<72} {r['median_s'] * 1e3:>10.2f} {r['min_s'] * 1e3:>8.2f} "
                     f"{r['max_s'] * 1e3:>8.2f} {base:>12} {ratio:>7} {best:>9}")
    return "\n".join(lines)


if __name__ == "__main__":
    try:
        import torch
        threads = f"torch threads: {torch.get_num_threads()}"
    except ImportError:
        threads = "torch not installed: no baseline for the ResNet figures"
    print(f"numpy {np.__version__}; {threads}")
    print(_table(run(quick="--quick" in sys.argv[1:])))
