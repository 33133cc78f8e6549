"""Exercise 8.19(c)'s page (depthwise-separable speed): the part is an experiment read from
the stored ``separable-speed`` results, its checks hold, and its plot, sweep table and
worded verdicts agree with re-computations done here from the stored JSON (medians recomputed
from every timed pass, predicted speed-ups from the layer sizes by hand).  Runs without
PyTorch; one test builds the page in an interpreter where importing PyTorch fails."""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from derive.book.model import Check, Figure, Measurement, Table, Text
from derive.check.verdict import Status
from lab_pages import part_named, solve_page

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "problems" / "chapter8" / "e08_19_depthwise_separable.py"
STORED = json.loads((ROOT / "derive" / "lab" / "results" / "separable-speed.json")
                    .read_text(encoding="utf-8"))
R = STORED["results"]
S = R["sweep"]
K = STORED["config"]["kernel"]
CHANNELS = S["channels"]


@pytest.fixture(scope="module")
def result():
    return solve_page(PAGE.name)


@pytest.fixture(scope="module")
def part_c(result):
    return part_named(result, "c")


def _median_speedup(i: int) -> float:
    """Measured speed-up at the i-th channel count, from every timed pass."""
    each = S["seconds_each"]
    return statistics.median(each["standard"][i]) / statistics.median(each["separable"][i])


def _predicted(c: int) -> Fraction:
    """Standard over separable multiply-adds per output position: C*C*k*k / (C*k*k + C*C)."""
    return Fraction(c * c * K * K, c * K * K + c * c)


def _text(part) -> str:
    return "\n".join(b.text for b in part.blocks if isinstance(b, Text))


def test_part_c_is_a_clean_experiment(result, part_c) -> None:
    assert [p.part.label for p in result.parts] == ["a", "b", "c"]
    assert part_c.part.scope == "experiment" and part_c.status == "experiment"
    assert not part_c.error
    assert [b.experiment for b in part_c.blocks if isinstance(b, Measurement)] == [
        "separable-speed"]
    checks = [b for b in part_c.blocks if isinstance(b, Check)]
    assert len(checks) == 3
    for check in checks:
        assert check.verdict.status in (Status.PROVED, Status.TESTED), check.why


def test_one_figure_plots_predicted_and_measured_speedup(result, part_c) -> None:
    figures = [b for p in result.parts for b in p.blocks if isinstance(b, Figure)]
    assert [f.name for f in figures] == ["separable-speedup"]
    bodies = re.findall(r"coordinates \{(.*?)\};", figures[0].tikz)
    series = [[(float(x), float(y)) for x, y in re.findall(r"\(([-\d.e]+),([-\d.e]+)\)", b)]
              for b in bodies]
    assert len(series) == 2
    predicted, measured = series
    assert [x for x, _ in predicted] == [x for x, _ in measured] == CHANNELS
    for (c, y), (_, m), i in zip(predicted, measured, range(len(CHANNELS))):
        assert y == pytest.approx(float(_predicted(int(c))), rel=1e-5)
        assert m == pytest.approx(_median_speedup(i), rel=1e-4)
    assert "legend" in figures[0].tikz and "predicted" in figures[0].tikz


def test_headline_numbers_are_the_sweep_at_512_channels() -> None:
    assert R["input_shape"][1] == 512 and 512 in CHANNELS
    i = CHANNELS.index(512)
    for key in ("measured_speedup", "predicted_speedup", "predicted_flop_ratio_fraction"):
        assert R[key] == S[key][i], key
    for key in ("seconds", "macs", "gmacs_per_second"):
        assert R[key] == {name: values[i] for name, values in S[key].items()}, key
    assert R["predicted_flop_ratio_fraction"] == "521/4608"
    assert len(R["seconds_each"]["standard"]) == R["repeats"] == S["timings"][i]
    b, _, n, _ = R["input_shape"]
    for j, c in enumerate(CHANNELS):
        assert S["macs"]["standard"][j] == b * n * n * c * c * K * K
        assert S["macs"]["separable"][j] == b * n * n * (c * K * K + c * c)
        assert len(S["seconds_each"]["separable"][j]) == S["timings"][j]


def test_sweep_table_agrees_with_the_stored_passes(part_c) -> None:
    table = next(b for b in part_c.blocks if isinstance(b, Table) and b.headers[0] == "channels")
    assert [row[0] for row in table.rows] == CHANNELS
    for i, row in enumerate(table.rows):
        c = CHANNELS[i]
        std = statistics.median(S["seconds_each"]["standard"][i]) * 1000
        assert float(row[1].removesuffix(" ms")) == pytest.approx(std, abs=0.006)
        assert float(row[3]) == pytest.approx(_median_speedup(i), abs=0.006)
        assert row[4] == f"{float(_predicted(c)):.2f}"
        assert row[5] == f"{K * K / (K * K + c):.1%}"    # depthwise share of multiply-adds
    assert ", ".join(map(str, S["timings"])) in table.caption


def test_verdicts_are_worded_from_the_data(part_c) -> None:
    text = _text(part_c)
    measured = [_median_speedup(i) for i in range(len(CHANNELS))]
    below = sum(m < float(_predicted(c)) for m, c in zip(measured, CHANNELS))
    if below == len(CHANNELS):
        assert "below the prediction at every channel count" in text
    elif below == 0:
        assert "never below the prediction" in text
    else:
        assert f"below the prediction at {below} of the {len(CHANNELS)}" in text
    rises = sum(b > a for a, b in zip(measured, measured[1:]))
    if rises == len(CHANNELS) - 1:
        assert "rises at every step to more channels" in text
    elif rises == 0:
        assert "falls at every step to more channels" in text
    else:
        assert f"rises at {rises} of the {len(CHANNELS) - 1} steps" in text
    headline = R["measured_speedup"] / float(_predicted(512))
    assert f"({headline:.0%} of it)" in text
    assert ("less than half of the prediction" in text) == (headline < 0.5)


def test_page_builds_without_torch() -> None:
    script = ("import sys\nsys.modules['torch'] = None\nsys.modules['sklearn'] = None\n"
              "from pathlib import Path\nfrom derive.problems import ProblemFile, load, solve\n"
              "from derive.render.markdown import render_problem\n"
              f"p = Path({str(PAGE)!r})\n"
              "print(render_problem(solve(load(ProblemFile('chapter8', p, "
              "'chapter8/' + p.name)))))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, timeout=600,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "separable-speedup" in done.stdout
