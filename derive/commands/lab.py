"""``derive lab``: run the experiments and check them against their stored results.

``derive lab run [NAME ...] [--full]`` runs experiments (all by default) and stores their
results (``derive/lab/results/NAME.json``), which the book renders; ``derive lab check
[NAME ...]`` re-runs the quick configurations and compares them with the stored results
within each experiment's tolerances (exit 1 and every difference named when they differ);
``derive lab list`` names the experiments, what they answer and their stored run times.
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "lab", help="run the experiments, or check them against their stored results",
        description="Seeded experiments at laptop scale (PyTorch and scikit-learn: "
                    "pip install -e '.[lab]'). The book renders their stored results and "
                    "runs none of them.")
    sub = p.add_subparsers(dest="lab_command", metavar="ACTION")
    run = sub.add_parser("run", help="run experiments and store their results",
                         description="Run experiments (all when none is named) and store "
                                     "their results for the book.")
    run.add_argument("names", nargs="*", metavar="NAME", help="experiments to run")
    run.add_argument("--full", action="store_true",
                     help="the exercise's original scale (hours; a GPU helps), stored as "
                          "NAME.full.json beside the quick results")
    run.set_defaults(func=_run)
    check = sub.add_parser("check", help="re-run quick experiments and compare",
                           description="Re-run the quick configurations and compare them "
                                       "with the stored results within the stated "
                                       "tolerances.")
    check.add_argument("names", nargs="*", metavar="NAME", help="experiments to check")
    check.set_defaults(func=_check)
    listing = sub.add_parser("list", help="the experiments and what they answer")
    listing.set_defaults(func=_list)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _names(args: argparse.Namespace) -> list[str]:
    from derive.lab.registry import EXPERIMENTS, experiment
    for name in args.names:
        experiment(name)          # an unknown name is an error naming the known ones
    return list(args.names) or list(EXPERIMENTS)


def _bar(name: str):
    from derive.render.build import make_progress
    show = make_progress(sys.stderr, label=f"{name} ")
    last = [-1]

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty() or done == total or done * 10 // max(total, 1) != last[0]:
            last[0] = done * 10 // max(total, 1)
            show(done, total, "", "")
    return progress


def _run(args: argparse.Namespace) -> int:
    from derive.lab import runner
    names = _names(args)
    runner.require_packages()
    for name in names:
        record = runner.run(name, full=args.full, progress=_bar(name))
        path = runner.save(record)
        print(f"{name}: {record['seconds']:g} s, stored in {path}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from derive.lab import runner
    names = _names(args)
    runner.require_packages()
    failed = 0
    for name in names:
        stored = runner.load(name)
        fresh = runner.run(name, progress=_bar(name))
        problems = runner.compare(name, stored["results"], fresh["results"])
        if problems:
            failed += 1
            print(f"{name}: {len(problems)} differences from the stored results "
                  f"({fresh['seconds']:g} s):")
            for line in problems[:20]:
                print(f"  {line}")
            if len(problems) > 20:
                print(f"  ... and {len(problems) - 20} more")
        else:
            print(f"{name}: agrees with the stored results ({fresh['seconds']:g} s; stored "
                  f"run {stored['seconds']:g} s)")
    print(f"{len(names) - failed} of {len(names)} experiments agree with their stored results")
    return 1 if failed else 0


def _list(args: argparse.Namespace) -> int:
    from derive.lab import runner
    from derive.lab.registry import EXPERIMENTS, experiment
    for name in EXPERIMENTS:
        module = experiment(name)
        try:
            seconds = f"{runner.load(name)['seconds']:g} s"
        except Exception:                    # noqa: BLE001 - no stored results yet
            seconds = "not run"
        print(f"{name:<16} {', '.join(module.EXERCISES):<34} {seconds:>8}  {module.TITLE}")
    return 0
