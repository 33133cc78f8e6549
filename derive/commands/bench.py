"""``derive bench``: run the benchmark suite of a source checkout (``benchmarks/``)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="run every benchmark and print one table",
                       description="Runs benchmarks/ from the current source checkout.")
    p.add_argument("--quick", action="store_true", help="a one-minute version")
    p.add_argument("--only", default="", help="comma-separated benchmark modules")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import os
    import sys
    from derive.errors import InputError
    if not os.path.isdir("benchmarks"):
        raise InputError("no benchmarks/ folder here; run 'derive bench' from the root of a "
                         "derive source checkout")
    sys.path.insert(0, os.getcwd())
    from benchmarks.__main__ import main
    argv = (["--quick"] if args.quick else []) + (["--only", args.only] if args.only else []) + (
        ["--json"] if args.json else [])
    return main(argv)
