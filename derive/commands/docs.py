"""``derive docs``: write the worked solutions as Markdown under docs/solutions.

Design rule: the same checked entries as the book (and the same cache).  ``--check`` writes
nothing and exits 1 naming every stale file, which is what CI runs.
"""

from __future__ import annotations

import argparse
import sys

from derive.commands.build import jobs_count


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "docs", help="write docs/solutions/<set>/<id>.md (--check: fail when stale)",
        description="Write the worked solutions as GitHub Markdown (maths in $...$ and "
                    "$$...$$) under docs/solutions, with an index page and SVG figures.")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 and name the files that differ")
    p.add_argument("--force", action="store_true", help="ignore the cache")
    p.add_argument("--problems", default="problems", metavar="DIR",
                   help="the problems directory (default: problems)")
    p.add_argument("--out", default="docs/solutions", metavar="DIR",
                   help="where the Markdown goes (default: docs/solutions)")
    p.add_argument("--build", default="build", metavar="DIR",
                   help="the build directory holding the cache (default: build)")
    p.add_argument("--jobs", type=jobs_count, default=None, metavar="N",
                   help="solve N problems at a time (default: one per core)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from derive.render.build import docs, make_progress

    tty = sys.stderr.isatty()
    report = docs(args.problems, args.out, args.build, check=args.check, force=args.force,
                  progress=make_progress(sys.stderr) if tty else (lambda *a: None),
                  jobs=args.jobs)
    out = Path(args.out)
    if args.check:
        if report.changed or report.removed:
            print("derive: the generated docs are stale; run `derive docs` and commit:",
                  file=sys.stderr)
            for rel in report.changed:
                state = "differs" if (out / rel).exists() else "missing"
                print(f"  {out / rel} ({state})", file=sys.stderr)
            for rel in report.removed:
                print(f"  {out / rel} (no longer generated)", file=sys.stderr)
            return 1
        print(f"{out}: up to date ({len(report.entries)} problems)")
        return 0
    print(f"{out}: {len(report.changed)} file(s) written, {len(report.removed)} removed "
          f"({len(report.entries)} problems)")
    return 0
