"""``derive build``: solve every problem, check every step, write build/*.tex and the PDFs.

Design rule: the command parses arguments and reports; the work is
:func:`derive.render.build.build`.  Exit code 0 when everything built and no part failed,
1 when a part errored or a step was refuted (the outputs are still written, with the failure
marked) or when LaTeX failed or an output could not be written (the previous PDF is kept),
130 when interrupted.  A part whose check ran out of its time budget is reported (not a
failure) and is checked again on the next build.
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "build", help="solve, check and typeset the worked solutions (build/solutions.pdf)",
        description="Solve every problem under problems/, check every step, and write "
                    "build/solutions.tex, one .tex per problem and their PDFs (pdflatex, "
                    "as many passes as each needs). Unchanged problems come from the cache "
                    "in build/.cache.")
    p.add_argument("--tex-only", action="store_true",
                   help="write the .tex files only; do not run LaTeX")
    p.add_argument("--force", action="store_true",
                   help="ignore the cache: solve and compile everything again")
    p.add_argument("--problems", default="problems", metavar="DIR",
                   help="the problems directory (default: problems)")
    p.add_argument("--out", default="build", metavar="DIR",
                   help="the output directory (default: build)")
    p.add_argument("--jobs", type=jobs_count, default=None, metavar="N",
                   help="solve and compile N at a time (default: one per core; 1: one thing "
                        "at a time); the outputs are the same")
    p.set_defaults(func=run)


def jobs_count(text: str) -> int:
    """The value of ``--jobs``: a whole number of at least 1 (argparse names the option)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from derive.render.build import build, make_progress, totals

    report = build(args.problems, args.out, tex_only=args.tex_only, force=args.force,
                   progress=make_progress(sys.stderr), jobs=args.jobs)
    t = totals(report.entries)
    book = Path(args.out) / ("solutions.tex" if args.tex_only else "solutions.pdf")
    print(f"{book}: {t['problems']} problems ({report.solved} solved, {report.cached} "
          f"cached), {t['parts']} parts; claims: {t['proved']} proved, {t['tested']} tested; "
          f"{t['cross_checks']} cross-checks; {t['code']} code listings; "
          f"{t['experiments']} measurements; {t['explanations'] + t['out_of_scope']} not "
          f"machine-checked; {len(report.written)} file(s) written, "
          f"{len(report.compiled)} PDF(s) compiled in {report.seconds:.1f} s")
    if report.timed_out:
        print(f"derive: {len(report.timed_out)} part(s) ran out of their time budget and are "
              f"only tested or unknown: {', '.join(report.timed_out)}; they are not cached and "
              f"will be checked again on the next build (a busy machine can cause this)",
              file=sys.stderr)
    if report.failures:
        print("derive: some parts failed (marked in the outputs):", file=sys.stderr)
        for line in report.failures:
            print(f"  {line}", file=sys.stderr)
        return 1
    return 0
