"""The lab's runner, registry, renderers and plots: stored results are rounded, sorted and
compared within each experiment's tolerances; every experiment follows the contract and its
stored results come from its current quick configuration; listings and measurements render
whole and are counted as what they are."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from derive.book import CODE, EXPERIMENT, Listing, Measurement, Part, PartResult
from derive.errors import InputError
from derive.lab import runner
from derive.lab.listings import source
from derive.lab.plots import heatmap_grid, line_plot, nice_ticks
from derive.lab.registry import EXPERIMENTS, experiment

ROOT = Path(__file__).resolve().parents[1]


def test_rounding_keeps_six_significant_digits_and_drops_negative_zero() -> None:
    got = runner._rounded({"a": 1 / 3, "b": [-0.0, np.float32(2.5), 10 ** 7 + 1.0],
                           "c": "text", "d": 3})
    assert got == {"a": 0.333333, "b": [0.0, 2.5, 1e7], "c": "text", "d": 3}
    assert str(got["b"][0]) == "0.0"


def test_stored_text_is_sorted_and_machine_independent() -> None:
    a = runner.dumps({"b": 1.0000001, "a": [1 / 7]})
    b = runner.dumps({"a": [0.142857142], "b": 1.0})
    assert a == b and a.index('"a"') < a.index('"b"')


def test_compare_uses_the_first_matching_tolerance(monkeypatch) -> None:
    class Fake:
        TOLERANCES = (("times.*", None), ("acc.*", 0.01))

    monkeypatch.setattr("derive.lab.runner.experiment", lambda name: Fake)
    stored = {"acc": [0.90, 0.95], "times": [1.0], "n": 4, "words": ["a"]}
    assert runner.compare("x", stored, {"acc": [0.905, 0.951], "times": [9.0], "n": 4,
                                        "words": ["a"]}) == []
    problems = runner.compare("x", stored, {"acc": [0.93, 0.95], "times": [1.0], "n": 5,
                                            "words": ["b"], "extra": 1})
    assert problems == ["extra: only in the re-run",
                        "acc.0: stored 0.9, re-run 0.93 (tolerance 0.01)",
                        "n: stored 4, re-run 5 (tolerance 0)",
                        "words.0: stored 'a', re-run 'b'"]


def test_unknown_experiment_names_the_known_ones() -> None:
    with pytest.raises(InputError, match="no experiment named 'nope'; known: augmentation"):
        runner.load("nope")


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_every_experiment_follows_the_contract(name: str) -> None:
    module = experiment(name)
    assert module.NAME == name
    assert module.EXERCISES and all(e.startswith("8.") for e in module.EXERCISES)
    assert module.TITLE and module.SCALING
    for config in (module.QUICK, module.FULL):
        assert isinstance(config["seed"], int)
        json.dumps(config)
    for pattern, tol in module.TOLERANCES:
        assert isinstance(pattern, str) and (tol is None or tol >= 0)
    assert callable(module.run)


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_stored_results_come_from_the_current_quick_configuration(name: str) -> None:
    """A stale result (the configuration changed, the run did not) fails here: re-run
    ``derive lab run NAME``."""
    module = experiment(name)
    record = runner.load(name)
    assert record["name"] == name and record["scale"] == "quick"
    assert record["config"] == runner._rounded(dict(module.QUICK))
    assert record["exercises"] == list(module.EXERCISES)
    assert record["scaling"] == module.SCALING
    assert set(record["environment"]) >= {"python", "torch", "numpy", "processor", "cpus"}
    text = runner.result_path(name).read_text(encoding="utf-8")
    assert text == runner.dumps(record), "stored results are not in canonical form"


def test_missing_packages_are_one_clear_error(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(runner.LabError, match=r"needs scikit-learn: pip install -e '\.\[lab\]'"):
        runner.require_packages()


def test_lab_command_errors_name_the_argument(capsys) -> None:
    from derive.cli import main
    assert main(["lab", "run", "no-such-experiment"]) == 2
    assert "no experiment named 'no-such-experiment'" in capsys.readouterr().err


def test_listing_source_is_the_file_and_unknown_names_are_refused() -> None:
    path = ROOT / "derive" / "lab" / "listings" / "im2col.py"
    assert source("im2col") == path.read_text(encoding="utf-8")
    for bad in ("nope", "__init__", "../runner"):
        with pytest.raises(InputError, match="no listing named"):
            source(bad)


def test_listing_and_measurement_render_whole_and_count_as_what_they_are() -> None:
    from derive.render.build import evidence_words
    from derive.render.lab import listing_latex, listing_markdown, measurement_latex
    from derive.render.steps import index_rows

    text = source("im2col")
    block = Listing("im2col", text, "The columns.", "tests/test_lab_listings.py")
    tex, md = listing_latex(block), listing_markdown(block)
    assert text.rstrip("\n") in tex and text.rstrip("\n") in md
    assert "```python" in md and r"\begin{DeriveListing}" in tex
    m = Measurement("mixup", "accuracy per epoch", "quick", "digits", 3, 1.5,
                    (("cpus", "2"), ("processor", "CPU X")))
    assert "Experiment" not in measurement_latex(m).split("\n")[1]  # the title says it
    assert "seed 3" in measurement_latex(m)

    from derive.book import Problem, ProblemResult
    code = PartResult(Part("a", "p", scope=CODE), (block,))
    exp = PartResult(Part("b", "q", scope=EXPERIMENT), (m,))
    assert (code.status, exp.status) == ("code", "experiment")
    rows = index_rows(ProblemResult(Problem("8.99", "chapter8", "t", "s", (code.part,
                                                                         exp.part)),
                                    (code, exp)))
    assert [(r["kind"], r["status"]) for r in rows] == [("code", "code"),
                                                        ("experiment", "experiment")]
    assert "proved" not in " ".join(r["method"] for r in rows).replace("not proved", "")
    assert evidence_words(rows) == "1 code listing, 1 experiment"


def test_a_listing_with_an_untypesettable_character_is_refused() -> None:
    from derive.render.lab import listing_latex
    with pytest.raises(InputError, match="cannot typeset"):
        listing_latex(Listing("x", "a = '\u2603'\n", "c"))


def test_line_plot_is_deterministic_and_covers_its_data() -> None:
    series = [("plain", [0, 1, 2, 3], [1e-6, 1e-3, 0.5, 20.0]), ("res", [0, 3], [1.0, 2.0])]
    a = line_plot("p", series, xlabel="layer", ylabel="norm", caption="c", log_y=True)
    b = line_plot("p", series, xlabel="layer", ylabel="norm", caption="c", log_y=True)
    assert a == b
    assert "(0,1e-06) (1,0.001) (2,0.5) (3,20)" in a.tikz
    assert "1e-6" in a.svg and "1e2" in a.svg
    with pytest.raises(InputError, match="value <= 0 on a log scale"):
        line_plot("p", [("z", [0], [0.0])], xlabel="x", ylabel="y", caption="c", log_y=True)
    with pytest.raises(InputError, match="has 2 x values and 1 y values"):
        line_plot("p", [("z", [0, 1], [1.0])], xlabel="x", ylabel="y", caption="c")


@pytest.mark.parametrize("lo,hi", [(0, 1), (0.3, 0.97), (-2, 50), (0, 49), (1e-3, 2e-3)])
def test_nice_ticks_cover_the_range_with_round_steps(lo: float, hi: float) -> None:
    ticks = nice_ticks(lo, hi)
    assert ticks[0] <= lo and ticks[-1] >= hi and 3 <= len(ticks) <= 12
    steps = {round(b - a, 12) for a, b in zip(ticks, ticks[1:])}
    assert len(steps) == 1
    mantissa = steps.pop() / 10 ** math.floor(math.log10(ticks[1] - ticks[0]))
    assert round(mantissa, 9) in (1, 2, 2.5, 5)


def test_heatmap_grid_draws_every_cell() -> None:
    grid = [[0.0, 1.0], [0.5, 0.25]]
    f = heatmap_grid("g", [grid, grid], ["digit 3", "~heat"], caption="c")
    assert f.tikz.count(r"\fill") == 8 and f.svg.count("<rect x=") == 8
    assert "white!100!black" in f.tikz and "red!100!blue" in f.tikz
