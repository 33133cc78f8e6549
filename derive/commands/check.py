"""``derive check``: solve every problem afresh and fail if any step is refuted or errored.

Design rule: no cache and no rendering; every part is solved and every step re-checked.
Exit code 1 when a step was refuted, a check errored, a part raised or a module failed to
load; 0 otherwise (tested and unknown steps are counted, not failed).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from derive.commands.build import jobs_count


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "check", help="solve all problems and fail on any refuted or failed step",
        description="Solve every problem under problems/ without the cache, re-checking every "
                    "step; print a summary; exit 1 if any step is refuted or errored.")
    p.add_argument("--problems", default="problems", metavar="DIR",
                   help="the problems directory (default: problems)")
    p.add_argument("--jobs", type=jobs_count, default=None, metavar="N",
                   help="problems checked at once, each in its own process (default: one per "
                        "core); the output is the same for any N")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from derive.pool import check_jobs, run_ordered
    from derive.problems import discover
    from derive.render.build import make_progress
    from derive.render.steps import STATUSES

    files = discover(args.problems)
    progress = make_progress(sys.stderr)
    parts: dict[str, int] = {}
    steps: dict[str, int] = {}
    cross: dict[str, int] = {}  # cross-checks are not steps and prove nothing
    problems: list[str] = []

    def done(outcome: dict) -> None:
        for totals, counts in ((parts, outcome["parts"]), (steps, outcome["steps"]),
                               (cross, outcome["cross"])):
            for status, n in counts.items():
                totals[status] = totals.get(status, 0) + n
        problems.extend(outcome["problems"])
        progress(len(progressed) + 1, len(files), outcome["name"], outcome["note"])
        progressed.append(outcome["name"])

    progressed: list[str] = []
    # Problems are checked in a pool; their outcomes are counted in book order, so the
    # progress lines and the summary read the same whatever the number of jobs.
    run_ordered(_check_one, files, check_jobs(args.jobs), done)
    print(f"{len(files)} problems; parts: "
          + (", ".join(f"{parts[s]} {s}" for s in STATUSES if s in parts) or "none")
          + "; steps: "
          + (", ".join(f"{steps[s]} {s}" for s in STATUSES if s in steps) or "none")
          + ("; cross-checks: " + ", ".join(f"{cross[s]} {s}" for s in STATUSES if s in cross)
             if cross else ""))
    if problems:
        print(f"derive: {len(problems)} failure(s):", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    return 0


def _check_one(pf: Any) -> dict[str, Any]:
    """Load and solve one problem file; its counts by status and its failures, as data."""
    from derive.book.model import flatten_steps
    from derive.check.verdict import Status
    from derive.errors import ProblemError
    from derive.problems import load, solve
    from derive.render.build import contain_malformed
    from derive.render.steps import cross_check_status, part_name

    out: dict[str, Any] = {"parts": {}, "steps": {}, "cross": {}, "problems": []}

    def count(kind: str, status: str) -> None:
        out[kind][status] = out[kind].get(status, 0) + 1

    try:
        problem = load(pf)
    except ProblemError as exc:
        out["problems"].append(str(exc))
        count("parts", "error")
        out.update(name=pf.relpath, note="failed to load")
        return out
    result = contain_malformed(solve(problem))
    for pr in result.parts:
        count("parts", pr.status)
        name = part_name(problem.id, pr.part.label)
        if pr.error:
            out["problems"].append(pr.error)
        for _why, verdict in flatten_steps(pr.claims):
            count("steps", verdict.status.value)
        for c in pr.cross_checks:
            count("cross", cross_check_status(c))
        for why, verdict in flatten_steps(pr.blocks):
            if verdict.status in (Status.REFUTED, Status.ERROR):
                detail = verdict.explain().replace("\n", "\n    ")
                out["problems"].append(f"{name}: step '{why}':\n    {detail}")
    out.update(name=problem.id, note=", ".join(f"{pr.part.label or '-'} {pr.status}"
                                               for pr in result.parts))
    return out
