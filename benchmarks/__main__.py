"""Run every benchmark and print one table: figure, median, min-max, ratio vs baseline.

    python -m benchmarks            # full run
    python -m benchmarks --quick    # about a minute
    python -m benchmarks --only verify,build
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time

# Benchmark modules in the order their figures are printed.
MODULES = ("verify", "receptive", "matrix_views", "numeric_conv", "arch", "analyze", "residual",
           "batch",
           "build", "library", "lab")


def machine() -> str:
    import os
    cores = os.cpu_count()
    try:
        with open("/proc/meminfo") as f:
            mem_kb = int(f.readline().split()[1])
        mem = f"{mem_kb / 2 ** 20:.0f} GiB"
    except OSError:  # pragma: no cover
        mem = "?"
    return (f"{platform.machine()}, {cores} cores, {mem}, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a one-minute version")
    parser.add_argument("--only", default="", help="comma-separated benchmark modules")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    from benchmarks._timing import print_table

    chosen = [m for m in MODULES if not args.only or m in args.only.split(",")]
    rows = []
    for name in chosen:
        try:
            module = importlib.import_module(f"benchmarks.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"benchmarks.{name}":
                continue
            raise
        start = time.perf_counter()
        for r in module.run(quick=args.quick):
            rows.append({"benchmark": name, **r})
        print(f"[{name}: {time.perf_counter() - start:.1f} s]", file=sys.stderr)
    if args.json:
        print(json.dumps({"machine": machine(), "rows": rows}, indent=2))
    else:
        print(f"machine: {machine()}")
        print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
