"""Exercise 8.27's page (lottery tickets): every part is an experiment read from the stored
``pruning`` results, no check on it fails, and its tables, figures and answers agree with
re-computations done here from the stored JSON (by other routes than the page's code).

Runs without PyTorch except the last tests, which check the experiment's own network and
that its retraining starts from the masked initial weights (the rewinding the page states).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from derive.book.model import Answer, Check, Figure, Measurement, Table
from derive.check.verdict import Status
from lab_pages import blocks, part_named, plot_series, solve_page

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "problems" / "chapter8" / "e08_27_lottery_ticket.py"
STORED = json.loads((ROOT / "derive" / "lab" / "results" / "pruning.json")
                    .read_text(encoding="utf-8"))
R = STORED["results"]
LEVELS = R["levels"]
N_VAL = R["val_size"]


@pytest.fixture(scope="module")
def result():
    return solve_page(PAGE.name)


def _table(result, label: str, first_header: str) -> Table:
    return next(t for t in blocks(result, label, Table) if t.headers[0] == first_header
                and len(t.headers) > 3)


def _answer(result, label: str, name: str) -> str:
    return next(a.value for a in blocks(result, label, Answer) if a.label == name)


def _coordinates(figure: Figure) -> list[list[tuple[float, float]]]:
    return plot_series(figure.tikz)


def _hand_weights() -> dict[str, int]:
    """The SimpleCNN's conv and linear weights, multiplied out by hand: 1 -> 16 -> 32
    channels of 3 x 3, then 32 maps of 2 x 2 (8 halved twice) into 10 classes."""
    c1, c2 = STORED["config"]["channels"]
    return {"conv1": 1 * c1 * 9, "conv2": c1 * c2 * 9, "head": c2 * 2 * 2 * 10}


def test_every_part_is_a_clean_experiment(result) -> None:
    assert [p.part.label for p in result.parts] == ["a", "b", "c"]
    for part in result.parts:
        assert part.error is None or part.error == "", part.error
        assert part.part.scope == "experiment" and part.status == "experiment"
        assert any(isinstance(b, Measurement) and b.experiment == "pruning"
                   for b in part.blocks)
        for check in (b for b in part.blocks if isinstance(b, Check)):
            if check.kind == "optional" and check.rhs is None:
                continue                          # its package is not installed here
            assert check.verdict.status in (Status.PROVED, Status.TESTED), (
                part.part.label, check.why, check.verdict.status)


def test_the_figures_plot_the_stored_numbers(result) -> None:
    names = {f.name: f for p in "abc" for f in blocks(result, p, Figure)}
    assert set(names) == {"pruning-magnitude-curves", "pruning-accuracy-sparsity",
                          "pruning-layer-kept"}
    mag, rnd, dense = _coordinates(names["pruning-accuracy-sparsity"])
    assert mag[0] == rnd[0] == (0.0, pytest.approx(R["dense"]["val_acc"]))
    assert [p[1] for p in mag[1:]] == pytest.approx([lv["magnitude"]["val_acc"]
                                                     for lv in LEVELS])
    assert [p[1] for p in rnd[1:]] == pytest.approx([lv["random"]["val_acc"]
                                                     for lv in LEVELS])
    assert [p[1] for p in dense] == pytest.approx([R["dense"]["val_acc"]] * 2)
    curves = _coordinates(names["pruning-magnitude-curves"])
    assert [y for _, y in curves[0]] == pytest.approx(R["dense"]["val_acc_curve"])
    assert [x for x, _ in curves[-1]] == list(range(1, R["epochs"] + 1))
    kept = _coordinates(names["pruning-layer-kept"])
    assert [y for _, y in kept[0]] == pytest.approx(
        [lv["magnitude"]["kept_fraction"]["conv1"] for lv in LEVELS])


def test_part_a_counts_and_accuracies(result) -> None:
    hand = _hand_weights()
    assert hand == R["layer_sizes"]
    n = sum(hand.values())
    table = _table(result, "a", "network")
    assert [row[2] for row in table.rows] == [n] + [n - round(lv["sparsity"] * n)
                                                     for lv in LEVELS]
    # correct images recomputed from the accuracies (each a whole number of 539)
    accs = [R["dense"]["val_acc"]] + [lv["magnitude"]["val_acc"] for lv in LEVELS]
    assert [row[4] for row in table.rows] == [int(a * N_VAL + 0.5) for a in accs]
    for a in accs:
        assert abs(a * N_VAL - round(a * N_VAL)) < 1e-3
    text = _answer(result, "a", "validation accuracy, magnitude pruning, rewound")
    assert [float(v) for v in re.findall(r"0\.\d{3}", text)] == pytest.approx(
        [round(a, 3) for a in accs[1:] + accs[:1]])


def test_part_a_says_whether_pruned_networks_match_the_dense_one(result) -> None:
    text = " ".join(b.text for b in part_named(result, "a").blocks if hasattr(b, "text"))
    d = R["dense"]["val_acc"]
    for lv in LEVELS:
        m = lv["magnitude"]["val_acc"]
        z = (m - d) / math.sqrt((m * (1 - m) + d * (1 - d)) / N_VAL)
        word = "level with" if abs(z) < 2 else ("above" if z > 0 else "below")
        assert f"at {lv['sparsity']:.0%} sparsity the rewound network ends {word}" in text


def test_part_b_significance_is_decided_from_the_data(result) -> None:
    table = _table(result, "b", "sparsity")
    clear = []
    for row, lv in zip(table.rows, LEVELS):
        m, q = lv["magnitude"]["val_acc"], lv["random"]["val_acc"]
        se = math.sqrt((m * (1 - m) + q * (1 - q)) / N_VAL)
        assert float(row[6]) == pytest.approx((m - q) / se, abs=0.05)
        assert row[4] == round((m - q) * N_VAL)
        if m - q >= 3 * se:
            clear.append(f"{lv['sparsity']:.0%}")
    answer = _answer(result, "b", "sparsities where magnitude beats random by three "
                                  "standard errors or more")
    assert answer == (", ".join(clear) if clear else "no sparsity")


def _baseline_by_bisection(kept: int) -> dict[str, float]:
    """Expected per-layer kept fraction of a global magnitude threshold on weights drawn
    from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), the threshold found by bisection."""
    sizes = R["layer_sizes"]
    c1, c2 = STORED["config"]["channels"]
    bound = {"conv1": 1 / math.sqrt(9), "conv2": 1 / math.sqrt(c1 * 9),
             "head": 1 / math.sqrt(c2 * 4)}
    lo, hi = 0.0, max(bound.values())
    for _ in range(100):
        t = (lo + hi) / 2
        if sum(sizes[k] * max(0.0, 1 - t / bound[k]) for k in sizes) > kept:
            lo = t
        else:
            hi = t
    return {k: max(0.0, 1 - lo / bound[k]) for k in sizes}


def test_part_c_layer_table_and_answer(result) -> None:
    table = _table(result, "c", "layer")
    rows = {(row[0], row[2]): row for row in table.rows}
    for lv in LEVELS:
        base = _baseline_by_bisection(lv["magnitude"]["kept"])
        for k in R["layers"]:
            row = rows[(k, f"{lv['sparsity']:.0%}")]
            assert float(row[4]) == pytest.approx(lv["magnitude"]["kept_fraction"][k],
                                                  abs=5e-4)
            assert float(row[5]) == pytest.approx(base[k], abs=1e-3)
    least = {max(R["layers"], key=lambda k: lv["magnitude"]["kept_fraction"][k])
             for lv in LEVELS}
    answer = _answer(result, "c", "layer pruned least at every sparsity")
    assert answer == (least.pop() if len(least) == 1 else "it changes with sparsity")


def test_the_experiment_network_has_the_stored_sizes() -> None:
    pytest.importorskip("torch")
    from derive.lab.experiments import _digits, pruning

    model = _digits.simple_cnn(STORED["config"])
    assert {k: w.numel() for k, w in pruning.prunable(model).items()} == R["layer_sizes"]


def test_retraining_starts_from_the_masked_initial_weights(monkeypatch) -> None:
    torch = pytest.importorskip("torch")
    from derive.lab.experiments import _digits, pruning

    config = {"channels": [4, 8]}
    trained = _digits.build(lambda: _digits.SimpleCNN((4, 8)), 1)     # stands for theta_T
    init = {k: v.clone() for k, v in
            _digits.build(lambda: _digits.SimpleCNN((4, 8)), 0).state_dict().items()}
    masks = pruning.magnitude_masks(pruning.prunable(trained), 0.7)
    seen: dict[str, torch.Tensor] = {}

    def fake_train(model, data, cfg, **kw):
        seen.update({k: v.clone() for k, v in model.state_dict().items()})
        return {}

    monkeypatch.setattr(_digits, "train", fake_train)
    pruning._retrain(config, init, None, masks, None, 0, 0)
    for key, value in init.items():
        layer = key.rsplit(".", 1)[0]
        expected = value * masks[layer] if key.endswith("weight") and layer in masks else value
        assert torch.equal(seen[key], expected), key
