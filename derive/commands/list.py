"""``derive list``: one row per exercise part (set, id, part, status).

Design rule: statuses come from the build cache when a problem is unchanged, so listing a
built book is instant; changed problems are solved first.  A module that fails to load is
listed with status ``error`` rather than stopping the listing.
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "list", help="list every exercise part with its status",
        description="One row per exercise part: set, id, part, status (proved, tested, "
                    "cross-checked, explanation, code, experiment, out-of-scope, unknown, refuted, "
                    "error).")
    p.add_argument("--json", action="store_true", help="print a JSON array of rows")
    p.add_argument("--problems", default="problems", metavar="DIR",
                   help="the problems directory (default: problems)")
    p.add_argument("--build", default="build", metavar="DIR",
                   help="the build directory holding the cache (default: build)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from derive.render.build import Cache, cacheable, collect, iter_parts, make_progress

    cache = Cache.load(Path(args.build))
    progress = make_progress(sys.stderr) if sys.stderr.isatty() else (lambda *a: None)
    got = collect(Path(args.problems), cache, progress=progress, keep_going=True)
    rows = list(iter_parts(got.entries))
    if got.solved:
        cache.problems = {e["path"]: e for e in got.entries if cacheable(e)}
        cache.save()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    widths = {k: max([len(k)] + [len(r[k]) for r in rows]) for k in ("set", "id", "part")}
    print(f"{'set':<{widths['set']}}  {'id':<{widths['id']}}  {'part':<{widths['part']}}  "
          f"status")
    for r in rows:
        print(f"{r['set']:<{widths['set']}}  {r['id']:<{widths['id']}}  "
              f"{r['part']:<{widths['part']}}  {r['status']}")
    if not rows:
        print(f"(no problems under {args.problems})", file=sys.stderr)
    return 0
