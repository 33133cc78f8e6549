"""Batch grading throughput: a generated batch of 1,000 submissions graded by
``grade_batch`` in one process and on 2 worker processes, in the same run.

The batch is a class's worth of work, made deterministically here: claims and multi-line
derivations, in plain text and in LaTeX, correct and wrong, some with assumptions, about one
line in sixteen malformed (bad JSON, no answer, an unreadable formula, an unknown format,
broken LaTeX), and about one in eight the same answer as an earlier student's.  Constants
are shifted from line to line, so most answers are distinct.

Every run starts with the checker's caches empty, as a new ``derive verify --batch`` does;
the 2-worker time includes starting the workers.  One-process and 2-worker runs come in
pairs, each kind first in turn, so that both see the same machine: three pairs, or two
when three would take more than about three minutes.  The 2-worker figure
names its rate, its speed-up over one process (the median over the pairs; 2x at best on 2
cores), and how much CPU other processes (or the hypervisor) took meanwhile, since a
second worker only helps when a second core is free; ``ratio`` is the median 2-worker time
over the median one-process time (0.5 would be a perfect 2x).  Two more rows give the CPU
time of both kinds of run: the workers should spend about what one process spends, and be
busy nearly all the time; when their CPU time is higher, the cores were slower with both in
use (shared by the host, say), which no pool can help.

    python -m benchmarks --only batch          # 1,000 submissions (2-3 minutes)
    python -m benchmarks --only batch --quick  # 200 submissions, one run each
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time
from typing import Any

from benchmarks._timing import print_table, row

REPEATS = 3           # runs of each kind, at most ...
TIME_LIMIT = 170.0    # ... and fewer (two at least) when they would take longer than this


def submissions(n: int, seed: int = 8) -> list[str]:
    """``n`` JSON lines of a mixed batch (the same lines for the same ``n`` and ``seed``)."""
    rng = random.Random(seed)
    out: list[str] = []
    for i in range(n):
        ident = f"student-{i:04d}"
        if out and rng.random() < 0.12:   # the same answer as an earlier student
            try:
                earlier = json.loads(out[rng.randrange(len(out))])
            except ValueError:
                earlier = None
            if isinstance(earlier, dict) and ("claim" in earlier or "derivation" in earlier):
                out.append(json.dumps({**earlier, "id": ident}))
                continue
        out.append(_submission(i % 16, i // 16 + 1, ident, rng))
    return out


def _submission(kind: int, k: int, ident: str, rng: random.Random) -> str:
    item: dict[str, Any] = {"id": ident}
    m = rng.randint(2, 9)
    if kind == 0:      # expansion, right
        item["claim"] = f"(a + {k})**2 == a**2 + {2 * k}*a + {k * k}"
    elif kind == 1:    # expansion, the middle term forgotten
        item["claim"] = f"(a + {k})**2 == a**2 + {k * k}"
    elif kind == 2:    # a floor/ceiling identity
        item["claim"] = f"ceiling((a + {k})/b) == floor((a + {k} + b - 1)/b)"
    elif kind == 3:    # floors do not add
        item["claim"] = f"floor(a/b) + floor({k + 1}/b) == floor((a + {k + 1})/b)"
    elif kind == 4:    # true only under the assumption
        item.update(claim=f"floor((s + {k})/s) == 1", assume=[f"s >= {k + 1}"])
    elif kind == 5:    # LaTeX claim, right
        item.update(claim=rf"\lceil (a+{k})/b \rceil = \lfloor (a+{k}+b-1)/b \rfloor",
                    format="latex")
    elif kind == 6:    # LaTeX claim, wrong where the denominator vanishes
        item.update(claim=rf"\frac{{x^2 - {k * k}}}{{x - {k}}} = x + {k}", format="latex")
    elif kind == 7:    # the output size of a convolution, right on even k, a floor dropped on odd
        last = (f"floor((H + 2*P - {m}*K + {m} - 1 + S)/S)" if k % 2 == 0
                else f"(H + 2*P - {m}*K + {m} - 1 + S)/S")
        item["derivation"] = "\n".join([f"floor((H + 2*P - {m}*(K - 1) - 1)/S) + 1",
                                        f"floor((H + 2*P - {m}*K + {m} - 1)/S) + 1", last])
    elif kind == 8:    # expansion with an assumption and a justification
        item["derivation"] = (f"# assume: x >= 1\n{k}*(x + {m})**2\n{k}*(x**2 + {2 * m}*x + "
                              f"{m * m})\n{k}*x**2 + {2 * k * m}*x + {k * m * m}"
                              f"  # because: distribute")
    elif kind == 9:    # difference of squares, a sign slips on the last line
        item["derivation"] = f"(x + {k})*(x - {k})\nx**2 - {k * k}\nx**2 + {k * k}"
    elif kind == 10:   # LaTeX derivation, right
        item.update(format="latex", derivation=(
            "\\begin{align*}\n  & a(b+%d) \\\\\n  &= ab + %da \\\\\n  &= %da + ab\n"
            "\\end{align*}" % (k, k, k)))
    elif kind == 11:   # LaTeX derivation, the floor dropped
        item.update(format="latex", derivation=(
            "\\begin{align*}\n  & \\left\\lfloor \\frac{H + %d}{S} \\right\\rfloor \\\\\n"
            "  &= \\frac{H + %d}{S}\n\\end{align*}" % (k, k)))
    elif kind == 12:   # trigonometry, right on odd k
        item["claim"] = f"sin(x)**2 + cos(x)**2 == {1 if k % 2 else m}"
    elif kind == 13:   # a closed form of a sum
        item["claim"] = f"Sum(j, (j, 1, n + {k})) == (n + {k})*(n + {k + 1})/2"
    elif kind == 14:   # a chain of equalities on one line, text
        item["derivation"] = f"{m}*(y + {k}) == {m}*y + {m * k} == {m * k} + {m}*y"
    else:              # malformed, five ways
        bad = k % 5
        if bad == 0:
            return '{"id": "%s", "claim": "a + ' % ident           # cut-off JSON
        item.update([{},                                             # no answer
                     {"claim": f"(a + {k} == a"},                    # unbalanced bracket
                     {"claim": "a == a", "format": "pdf"},           # unknown format
                     {"derivation": r"\begin{align*} a &= \frac{b}{c \end{align*}"},
                     ][bad - 1])
    return json.dumps(item)


def _grade(lines: list[str], jobs: int) -> tuple[float, float]:
    """Wall-clock and CPU seconds (this process and its workers) of grading ``lines``."""
    import sympy.core.cache

    from derive.check import engine
    from derive.grade.batch import grade_batch

    engine._CACHE.clear()              # every run starts as a new command would
    sympy.core.cache.clear_cache()
    before, start = _cpu(), time.perf_counter()
    results = list(grade_batch(lines, jobs=jobs, progress=False))
    wall, cpu = time.perf_counter() - start, _cpu() - before   # the workers have ended
    assert [r["line"] for r in results] == list(range(1, len(lines) + 1))
    errors = sum(r["verdict"] == "error" for r in results)
    assert errors < len(lines) // 8, f"{errors} errors: the batch is not what it should be"
    return wall, cpu


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run(quick: bool = False) -> list[dict[str, Any]]:
    n = 200 if quick else 1_000
    lines = submissions(n)
    _grade(submissions(16), 1)   # imports and first-call costs are not throughput
    runs: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
    start, busy = time.perf_counter(), _Busy()
    while len(runs[1]) < REPEATS and not (quick and runs[1]):
        # in pairs, in turn 1-2, 2-1, 1-2: both kinds of run see the same machine
        for jobs in ((1, 2) if len(runs[1]) % 2 == 0 else (2, 1)):
            runs[jobs].append(_grade(lines, jobs))
        elapsed = time.perf_counter() - start
        done = len(runs[1])
        if done >= 2 and elapsed * (done + 1) / done > TIME_LIMIT:
            break
    one, two = ([wall for wall, _ in runs[j]] for j in (1, 2))
    cpu1, cpu2 = ([cpu for _, cpu in runs[j]] for j in (1, 2))
    rate1, rate2 = n / statistics.median(one), n / statistics.median(two)
    speedup = statistics.median(a / b for a, b in zip(one, two))
    use = statistics.median(c / (2 * w) for c, w in zip(cpu2, two))
    return [
        row(f"batch {n}, 2 workers: {rate2:.1f}/s, {speedup:.2f}x{busy.others()}",
            two, f"one process ({rate1:.1f}/s)", one),
        row(f"batch {n}, one process: {rate1:.1f}/s", one),
        # the same work should cost the same CPU; more means slower cores when both are busy
        row(f"  CPU time of the 2 workers (busy {use:.0%} of the time)", cpu2,
            "CPU time of one process", cpu1),
        row("  CPU time of one process", cpu1),
    ]


class _Busy:
    """How much of the machine other processes (and the hypervisor) took meanwhile: a
    second worker only helps when a second core is free."""

    def __init__(self) -> None:
        self.start = self._sample()

    @staticmethod
    def _sample() -> tuple[float, float, float] | None:
        try:
            with open("/proc/stat") as f:
                fields = [int(x) for x in f.readline().split()[1:9]]
        except (OSError, ValueError):   # not Linux
            return None
        ticks = os.sysconf("SC_CLK_TCK")
        busy = sum(fields) - fields[3] - fields[4]   # all but idle and iowait
        ours = os.times()
        return (time.perf_counter(), busy / ticks,
                ours.user + ours.system + ours.children_user + ours.children_system)

    def others(self) -> str:
        end = self._sample()
        if self.start is None or end is None:
            try:
                return f" (load {os.getloadavg()[0]:.1f})"
            except (AttributeError, OSError):  # pragma: no cover
                return ""
        wall, busy, ours = (b - a for a, b in zip(self.start, end))
        return f" (others use {max(busy - ours, 0.0) / wall:.1f} cpu)"


if __name__ == "__main__":
    print_table(run(quick="--quick" in sys.argv))
