"""Build timings, as a user sees them (each sample is a fresh ``python -m derive`` process):

- cold full build: solve and check every problem (SymPy), render, compile every PDF (LaTeX);
- cold .tex-only build: the same without LaTeX (what ``derive docs --check`` costs in CI);
- no-change rebuild: everything cached; target under 1 s (ratio against the cold build);
- docs regeneration: ``derive docs`` writing every page from a warm cache.

Runs on a snapshot of ``problems/`` (so edits made meanwhile do not disturb it), or on the
small test fixture set with ``--quick`` or when ``problems/`` is empty.  A no-change sample
taken while the engine's sources changed (the cache key covers them) is taken again.
"""

from __future__ import annotations

import shutil
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


def _derive(*args: str) -> tuple[float, str]:
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "derive", *args], cwd=ROOT,
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if proc.returncode not in (0, 1):  # 1: a part failed, still a complete build
        raise RuntimeError(f"derive {' '.join(args)} failed:\n{proc.stderr}")
    return elapsed, proc.stdout


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
    cold_reps, warm_reps = (1, 3) if quick else (3, 7)
    rows = []
    with tempfile.TemporaryDirectory(prefix="derive-bench-") as tmp:
        base = Path(tmp)
        problems = _problems(quick, base)
        n = sum(1 for p in problems.glob("*/*.py") if not p.name.startswith("_"))
        common = ["--problems", str(problems)]

        def cold(i: int, *extra: str) -> float:
            return _derive("build", *common, "--out", str(base / f"cold{i}{len(extra)}"),
                           *extra)[0]

        full = [cold(i, *([] if tex else ["--tex-only"])) for i in range(cold_reps)]
        what = "SymPy + LaTeX" if tex else "SymPy only: TeX Live missing"
        rows.append(row(f"build: cold full build, {n} problems ({what})", full))
        tex_only = [cold(i, "--tex-only") for i in range(cold_reps)]
        rows.append(row(f"build: cold .tex-only build, {n} problems (SymPy)", tex_only,
                        "cold full build", full))

        warm = base / f"cold0{0 if tex else 1}"
        _derive("build", *common, "--out", str(warm), *([] if tex else ["--tex-only"]))
        again = [_unchanged("build", *common, "--out", str(warm),
                            *([] if tex else ["--tex-only"])) for _ in range(warm_reps)]
        rows.append(row("build: no-change rebuild (target < 1 s)", again,
                        "cold full build", full))

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
