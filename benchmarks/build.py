"""Build timings, as a user sees them (each sample is a fresh ``derive`` process):

- cold full build with ``--jobs 2`` against the sequential one (``--jobs 1``), taken in turn
  in the same run: solve and check every problem (SymPy), render, compile every PDF (LaTeX);
- cold .tex-only build: the same without LaTeX (what ``derive docs --check`` costs in CI);
- no-change rebuild: everything cached; target under 1 s (ratio against the cold build);
- peak memory of a cold full build with ``--jobs 2``: the largest resident set of the build
  process plus that of its largest child (``getrusage``: a worker, latexmk or pdflatex);
- docs regeneration: ``derive docs`` writing every page from a warm cache.

Runs on a snapshot of ``problems/`` (so edits made meanwhile do not disturb it), or on the
small test fixture set with ``--quick`` or when ``problems/`` is empty.  A no-change sample
taken while the engine's sources changed (the cache key covers them) is taken again.
"""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._timing import row

ROOT = Path(__file__).resolve().parents[1]


def _problems(quick: bool, tmp: Path) -> Path:
    real = ROOT / "problems"
    if quick or not any(p for p in real.glob("*/*.py") if not p.name.startswith("_")):
        return ROOT / "tests" / "fixtures" / "problems"
    snapshot = tmp / "problems"
    shutil.copytree(real, snapshot, ignore=shutil.ignore_patterns("__pycache__"))
    return snapshot


# ``derive ARGS`` that also reports its peak resident set (KiB on Linux): its own and its
# largest child's.  It leaves the way the installed command does (no interpreter teardown).
_MEASURED = """
import os, resource, sys
from derive.cli import main
code = main(sys.argv[1:])
peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(f"peak-rss-kib {peak}", file=sys.stderr)
sys.stdout.flush()
sys.stderr.flush()
os._exit(code)
"""


def _derive(*args: str) -> tuple[float, str]:
    elapsed, out, _peak = _measured(*args)
    return elapsed, out


def _measured(*args: str) -> tuple[float, str, int]:
    """Wall-clock seconds, standard output and peak RSS (KiB) of ``derive ARGS``."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _MEASURED, *args], cwd=ROOT,
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if proc.returncode not in (0, 1):  # 1: a part failed, still a complete build
        raise RuntimeError(f"derive {' '.join(args)} failed:\n{proc.stderr}")
    found = re.search(r"peak-rss-kib (\d+)", proc.stderr)
    return elapsed, proc.stdout, int(found.group(1)) if found else 0


def _unchanged(*args: str) -> float:
    """A rebuild that really found nothing to do: a sample taken while the sources changed
    under it (the cache key covers them) is discarded and taken again."""
    for _ in range(5):
        elapsed, out = _derive(*args)
        if "(0 solved" in out and " 0 PDF(s) compiled" in out:
            return elapsed
    raise RuntimeError("the sources kept changing; no no-change rebuild could be timed")


def run(quick: bool = False) -> list[dict[str, Any]]:
    tex = shutil.which("latexmk") is not None and shutil.which("pdflatex") is not None
    cold_reps, warm_reps = (1, 3) if quick else (2, 7)
    rows = []
    with tempfile.TemporaryDirectory(prefix="derive-bench-") as tmp:
        base = Path(tmp)
        problems = _problems(quick, base)
        n = sum(1 for p in problems.glob("*/*.py") if not p.name.startswith("_"))
        common = ["--problems", str(problems)]
        full_args = [] if tex else ["--tex-only"]
        what = "SymPy+LaTeX" if tex else "no TeX Live"

        def cold(name: str, *extra: str) -> tuple[float, int]:
            elapsed, _out, peak = _measured("build", *common, "--out", str(base / name),
                                            *extra)
            return elapsed, peak

        # Parallel and sequential in turn, so that both see the same load on the machine.
        parallel, sequential, peaks = [], [], []
        for i in range(cold_reps):
            elapsed, peak = cold(f"jobs2-{i}", "--jobs", "2", *full_args)
            parallel.append(elapsed)
            peaks.append(peak)
            sequential.append(cold(f"jobs1-{i}", "--jobs", "1", *full_args)[0])
        rows.append(row(f"build: cold full build --jobs 1, {n} problems ({what})",
                        sequential))
        rows.append(row(f"build: cold full build --jobs 2, {n} problems ({what})", parallel,
                        "cold full build --jobs 1", sequential))
        tex_only = [cold(f"tex{i}", "--jobs", "2", "--tex-only")[0] for i in range(cold_reps)]
        rows.append(row(f"build: cold .tex-only build --jobs 2, {n} problems",
                        tex_only, "cold full build --jobs 2", parallel))

        warm = base / "jobs2-0"
        again = [_unchanged("build", *common, "--out", str(warm), *full_args)
                 for _ in range(warm_reps)]
        rows.append(row("build: no-change rebuild (target < 1 s)", again,
                        "cold full build --jobs 2", parallel))
        mib = statistics.median(peaks) / 1024
        rows.append({**row(f"build: peak RSS {mib:.0f} MiB, cold full build --jobs 2",
                           parallel), "peak_rss_mib": mib})

        def regenerate() -> float:
            shutil.rmtree(base / "docs", ignore_errors=True)
            return _derive("docs", *common, "--out", str(base / "docs"),
                           "--build", str(warm))[0]

        docs = [regenerate() for _ in range(warm_reps)]
        rows.append(row(f"docs: regenerate {n} pages from the cache", docs,
                        "cold .tex-only build", tex_only))
    return rows


if __name__ == "__main__":  # pragma: no cover
    from benchmarks._timing import print_table
    print_table(run(quick="--quick" in sys.argv))
