"""The experiments at their quick scale: the wall-clock time of each (what ``derive lab
run`` and ``derive lab check`` spend on it), and of all of them together, against the
budget of about 60 s each and five minutes in all.

Each experiment runs once (they are 5-60 s each, and deterministic, so repeats would only
measure the machine again); ``--quick`` skips this benchmark.  Needs PyTorch and
scikit-learn (``pip install -e '.[lab]'``); without them the benchmark prints nothing.

    python -m benchmarks --only lab
"""

from __future__ import annotations

import sys
from typing import Any

from benchmarks._timing import row

BUDGET_EACH, BUDGET_ALL = 60.0, 300.0


def run(quick: bool = False) -> list[dict[str, Any]]:
    if quick:
        return []
    from derive.lab import runner
    from derive.lab.registry import EXPERIMENTS
    try:
        runner.require_packages()
    except runner.LabError as exc:
        print(f"lab: skipped ({exc})", file=sys.stderr)
        return []
    rows, total = [], 0.0
    for name in EXPERIMENTS:
        seconds = runner.run(name)["seconds"]
        total += seconds
        rows.append(row(f"lab run {name} (quick; budget {BUDGET_EACH:.0f} s)", [seconds],
                        "budget", [BUDGET_EACH]))
    rows.append(row(f"lab run, all {len(EXPERIMENTS)} quick experiments", [total],
                    "budget", [BUDGET_ALL]))
    return rows
