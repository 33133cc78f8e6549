"""``derive verify``: check a claim, a derivation file, or a batch of submissions."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "verify", help="check a claim 'lhs == rhs' (or a derivation file, or a batch)",
        description="Check a claim: proved (with the method), refuted (with a counterexample),"
                    " tested (sampled instances agree, no proof) or unknown. Exit codes: "
                    "0 proved, 1 refuted, 2 bad input, 3 tested or unknown.",
        epilog=_batch_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("claim", nargs="?", help='e.g. "ceiling(a/b) == floor((a + b - 1)/b)"')
    p.add_argument("--assume", action="append", default=[], metavar="TEXT",
                   help='an assumption such as "s >= 2", "p >= 0", "x real" (repeatable)')
    p.add_argument("--given", action="append", default=[], metavar="NAME=VALUE",
                   help='fix symbols\' values, e.g. "H=32, K=5" (each becomes H == 32)')
    p.add_argument("--json", action="store_true", help="print the verdict as JSON")
    p.add_argument("--budget", type=float, default=None, metavar="SECONDS",
                   help="time budget per claim (default 4)")
    p.add_argument("--file", metavar="PATH",
                   help="check a derivation written one line per step (.txt) or in LaTeX (.tex)")
    p.add_argument("--format", choices=("text", "latex"), default=None,
                   help="format of --file (default: from the file name) or of the claim "
                        "(latex: a one-line claim such as '\\frac{a}{b} = c')")
    p.add_argument("--batch", metavar="JSONL",
                   help="grade many submissions, one JSON object per line ('-': standard "
                        "input); see the fields below")
    p.add_argument("--jobs", type=int, default=2, help="worker processes for --batch")
    p.add_argument("--output", metavar="PATH", help="write --batch results here (default stdout)")
    p.add_argument("--summary", action="store_true",
                   help="after --batch, print counts per verdict, scores per student and the "
                        "mean score (on standard error when results go to standard output)")
    p.add_argument("--csv", metavar="FILE",
                   help="also write id, student, verdict, first_wrong_line, score, feedback")
    p.add_argument("--gradescope", metavar="FILE",
                   help="also write Gradescope's autograder results.json")
    p.add_argument("--partial", choices=("steps", "none"), default="steps",
                   help="partial credit for a wrong submission: the share of checks that "
                        "hold before the first wrong one (steps, the default) or none")
    p.set_defaults(func=run)


def _batch_help() -> str:
    """The --batch line format, from the schema shipped with the package."""
    from derive.grade.submission import SCHEMA_PATH, schema

    spec = schema()
    lines = ["--batch: one JSON object per line (schema: " + str(SCHEMA_PATH.name) + " in the "
             "derive.grade package). Keys:"]
    for key, field in spec["properties"].items():
        need = " (required)" if key in spec["required"] else ""
        lines.append(f"  {key:<11}{field['description']}{need}")
    lines += ["Verdicts: proved, wrong answer (every step holds, the answer differs from "
              "expect), refuted (first wrong line), needs review (tested or undecided), "
              "error (bad input). Exit code of --batch: 0 when every line was graded, 2 when "
              "some line was bad input (all results are written first).",
              'Example: {"id": "q1-ann", "student": "ann", "text": "floor((H + 2*P - K)/S) '
              '+ 1\nfloor((H + 2*P - K + S)/S)", "assume": ["S >= 1"], "expect": '
              '"floor((H + 2*P - K)/S) + 1", "points": 2}']
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from derive.errors import DeriveError, InputError

    chosen = [x for x in (args.claim, args.file, args.batch) if x]
    if len(chosen) != 1:
        raise InputError("give exactly one of: a claim, --file PATH, --batch JSONL")
    if args.budget is not None and not 0 < args.budget <= 3600:
        raise InputError(f"got --budget={args.budget}; the budget must be a number of seconds "
                         f"above 0 and at most 3600")
    if args.given:
        from derive.grade.reader import given_assumptions, split_assumptions
        try:
            args.assume = list(args.assume) + [a for g in args.given for a in split_assumptions(
                given_assumptions(g, "--given"))]
        except DeriveError as exc:
            return _bad_input(args, exc)
    if args.batch:
        from derive.grade.batch import run_batch_command
        return run_batch_command(args.batch, jobs=args.jobs, output=args.output,
                                 assume=args.assume, budget=args.budget,
                                 summary=args.summary, csv_path=args.csv,
                                 gradescope_path=args.gradescope, partial=args.partial)
    if args.file:
        from derive.grade import grade_file
        try:
            report = grade_file(args.file, assume=args.assume, fmt=args.format, budget=args.budget)
        except DeriveError as exc:
            return _bad_input(args, exc)
        if args.json:
            print(json.dumps(report.to_dict(), indent=2, sort_keys=True))
        else:
            print(report.explain())
        return report.exit_code
    from derive.check.engine import verify
    from derive.grade.reader import claim_text, split_assumptions
    args.assume = [a for item in args.assume for a in split_assumptions(item)]
    try:
        if args.format == "latex":
            from derive.check.latex import parse_latex_claim
            from derive.check.engine import check_exprs
            found: list = []
            sides = parse_latex_claim(args.claim, divisors=found)
            verdict = check_exprs(*sides, args.assume, args.budget, divisors=(found[0], found[1]))
            verdict = replace(verdict, claim=verdict.claim or args.claim)
        else:
            from derive.check.parse import parse_claim
            text = claim_text(args.claim)
            verdict = verify(text, assume=args.assume, budget=args.budget)
            sides = parse_claim(text)
    except DeriveError as exc:
        return _bad_input(args, exc)
    read_as = _reading(sides)
    if args.json:
        print(json.dumps({**verdict.to_dict(), "read_as": read_as}, indent=2, sort_keys=True))
    else:
        print(verdict.explain())
        print(f"read as: {read_as['text']}")
    return verdict.exit_code


def _reading(sides: tuple) -> dict[str, str]:
    """The claim as the engine read it, in plain text and LaTeX."""
    from derive.grade.report import reading
    lhs, rhs = reading(sides[0]), reading(sides[1])
    return {"text": f"{lhs['text']} == {rhs['text']}", "latex": f"{lhs['latex']} = {rhs['latex']}"}


def _bad_input(args: argparse.Namespace, exc: Exception) -> int:
    if args.json:
        print(json.dumps({"verdict": "error", "method": str(exc), "counterexample": None,
                          "lhs_value": None, "rhs_value": None, "instances": 0},
                         indent=2, sort_keys=True))
    else:
        print(f"derive: error: {exc}", file=sys.stderr)
    return 2
