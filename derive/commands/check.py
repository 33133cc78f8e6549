"""``derive check``: solve every problem afresh and fail if any step is refuted or errored.

Design rule: no cache and no rendering; every part is solved and every step re-checked.
Exit code 1 when a step was refuted, a check errored, a part raised or a module failed to
load; 0 otherwise (tested and unknown steps are counted, not failed).
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "check", help="solve all problems and fail on any refuted or failed step",
        description="Solve every problem under problems/ without the cache, re-checking every "
                    "step; print a summary; exit 1 if any step is refuted or errored.")
    p.add_argument("--problems", default="problems", metavar="DIR",
                   help="the problems directory (default: problems)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from derive.book.model import flatten_steps
    from derive.check.verdict import Status
    from derive.errors import ProblemError
    from derive.problems import discover, load, solve
    from derive.render.build import contain_malformed, make_progress
    from derive.render.steps import STATUSES, cross_check_status, part_name

    files = discover(args.problems)
    progress = make_progress(sys.stderr)
    parts: dict[str, int] = {}
    steps: dict[str, int] = {}
    cross: dict[str, int] = {}  # cross-checks are not steps and prove nothing
    problems: list[str] = []
    for i, pf in enumerate(files, 1):
        try:
            problem = load(pf)
        except ProblemError as exc:
            problems.append(str(exc))
            parts["error"] = parts.get("error", 0) + 1
            progress(i, len(files), pf.relpath, "failed to load")
            continue
        result = contain_malformed(solve(problem))
        for pr in result.parts:
            parts[pr.status] = parts.get(pr.status, 0) + 1
            name = part_name(problem.id, pr.part.label)
            if pr.error:
                problems.append(pr.error)
            for _why, verdict in flatten_steps(pr.claims):
                steps[verdict.status.value] = steps.get(verdict.status.value, 0) + 1
            for c in pr.cross_checks:
                cross[cross_check_status(c)] = cross.get(cross_check_status(c), 0) + 1
            for why, verdict in flatten_steps(pr.blocks):
                if verdict.status in (Status.REFUTED, Status.ERROR):
                    detail = verdict.explain().replace("\n", "\n    ")
                    problems.append(f"{name}: step '{why}':\n    {detail}")
        progress(i, len(files), problem.id, ", ".join(
            f"{pr.part.label or '-'} {pr.status}" for pr in result.parts))
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
