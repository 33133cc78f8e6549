"""The pages of exercises 8.10 (data augmentation) and 8.11 (Grad-CAM): every part is an
experiment answered from the stored results, no check is refuted, and the page's numbers,
figures and comparing sentences agree with recomputations done here from the stored JSON
(never copied from the page's own code).
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from derive.book.model import Check, Figure, Measurement, Table, Text
from derive.check.verdict import Status
from lab_pages import answers, blocks, plot_series, solve_page

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "derive" / "lab" / "results"
PAGES = {"8.10": ("e08_10_augmentation.py", "augmentation"),
         "8.11": ("e08_11_grad_cam.py", "grad-cam")}


@pytest.fixture(scope="module")
def solved() -> dict:
    return {pid: solve_page(PAGES[pid][0]) for pid in PAGES}


@pytest.fixture(scope="module")
def aug() -> dict:
    return json.loads((RESULTS / "augmentation.json").read_text())


@pytest.fixture(scope="module")
def cam() -> dict:
    return json.loads((RESULTS / "grad-cam.json").read_text())


def _prose(result, label: str) -> str:
    return " ".join(b.text for b in blocks(result, label, Text))


def _figure(result, label: str, name: str) -> Figure:
    return next(f for f in blocks(result, label, Figure) if f.name == name)


# -- every part is a measured experiment, nothing refuted ---------------------------------------

@pytest.mark.parametrize("pid", sorted(PAGES))
def test_every_part_is_an_experiment_from_its_stored_results(solved, pid) -> None:
    result = solved[pid]
    assert "".join(p.part.label for p in result.parts) == "abcd"
    for part in result.parts:
        assert part.part.scope == "experiment" and part.status == "experiment", part.part.label
        boxes = [b for b in part.blocks if isinstance(b, Measurement)]
        assert [b.experiment for b in boxes] == [PAGES[pid][1]], part.part.label
        for figure in (b for b in part.blocks if isinstance(b, Figure)):
            ET.fromstring(figure.svg)
            assert figure.tikz.startswith("\\begin{tikzpicture}")
        for check in (b for b in part.blocks if isinstance(b, Check)):
            assert check.verdict.status not in (Status.REFUTED, Status.ERROR), (
                part.part.label, check.why, check.verdict.reason)


def test_pages_build_without_torch_or_scikit_learn() -> None:
    """The pages render from the stored JSON: block both packages and solve both pages.

    The runner's name check (``derive.lab.runner.result_path``) imports the experiment's
    module, which imports torch at the top; that is the runner's concern, not the pages', so
    here it is replaced by a plain lookup in the registry and the test sees the pages' own
    imports only."""
    code = ("import sys\n"
            "sys.modules['torch'] = None\n"
            "sys.modules['sklearn'] = None\n"
            "import derive.lab.runner as runner\n"
            "from derive.lab.registry import EXPERIMENTS\n"
            "runner.experiment = EXPERIMENTS.__getitem__\n"
            "from pathlib import Path\n"
            "from derive.problems import ProblemFile, load, solve\n"
            f"for name in {[f for f, _ in PAGES.values()]!r}:\n"
            "    path = Path('problems/chapter8') / name\n"
            "    result = solve(load(ProblemFile('chapter8', path, 'chapter8/' + name)))\n"
            "    assert all(p.status == 'experiment' for p in result.parts), name\n")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]


# -- 8.10 ----------------------------------------------------------------------------------------

def test_8_10_crop_counts(solved, aug) -> None:
    b = answers(solved["8.10"], "b")
    cifar = len(list(itertools.product(range(32 + 2 * 4 - 32 + 1), repeat=2)))
    assert b["distinct crops"] == cifar and b["crops and flips"] == 2 * cifar
    shift = aug["config"]["variants"]["augmented"]["shift"]
    # offsets a shift of up to `shift` pixels can take, in both directions, per axis
    offsets = {(dy, dx) for dy in range(-shift, shift + 1) for dx in range(-shift, shift + 1)}
    assert b["crop positions of a digit (run 'augmented')"] == len(offsets)


def test_8_10_first_epoch_at_full_training_accuracy(solved, aug) -> None:
    runs = aug["results"]["runs"]
    per_seed = [all(v == 1.0 for v in vals) for vals in zip(runs["plain"]["final"]["train_acc"])]
    assert all(per_seed)
    curve = runs["plain"]["curves"]["train_acc"]
    first = min(i for i, v in enumerate(curve) if v >= 1.0) + 1
    assert f"first reaches 1 at epoch {first} " in _prose(solved["8.10"], "a")


def test_8_10_flip_sentence_matches_the_seeds(solved, aug) -> None:
    final = aug["results"]["runs"]
    lower = sum(f < a for a, f in zip(final["augmented"]["final"]["val_acc"],
                                      final["flipped"]["final"]["val_acc"]))
    n = len(aug["results"]["seeds"])
    text = _prose(solved["8.10"], "b")
    assert f"lower in {lower} of {n} seeds" in text
    mean_f = np.mean(final["flipped"]["final"]["val_acc"])
    mean_a = np.mean(final["augmented"]["final"]["val_acc"])
    assert ("falls by" if mean_f < mean_a else "rises by") in text
    assert f"to {mean_f:.3f}" in text


def test_8_10_plots_are_the_stored_mean_curves(solved, aug) -> None:
    r = aug["results"]
    acc = _figure(solved["8.10"], "c", "augmentation-validation-accuracy")
    series = plot_series(acc.tikz)
    assert len(series) == 3
    for run, points in zip(("plain", "augmented", "flipped"), series):
        assert [x for x, _ in points] == list(range(1, r["epochs"] + 1))
        # the last point is the mean over the seeds of the final validation accuracy
        assert points[-1][1] == pytest.approx(np.mean(r["runs"][run]["final"]["val_acc"]),
                                              abs=1e-5)
        best = max(range(len(points)), key=lambda i: points[i][1])
        stored = r["runs"][run]["curves"]["val_acc"]
        assert stored[best] == max(stored)
    loss = _figure(solved["8.10"], "c", "augmentation-training-loss")
    assert "ymode=log" in loss.tikz and len(plot_series(loss.tikz)) == 6


def test_8_10_gap_table_recomputed_from_per_seed_accuracies(solved, aug) -> None:
    r = aug["results"]
    (table,) = [t for t in blocks(solved["8.10"], "c", Table) if "gap (mean)" in t.headers]
    assert len(table.rows) == 3
    for row, run in zip(table.rows, ("plain", "augmented", "flipped")):
        final = r["runs"][run]["final"]
        gaps = [t - v for t, v in zip(final["train_acc"], final["val_acc"])]
        assert row[3] == f"{np.mean(gaps):.3f}"
        assert list(row[4:]) == [f"{g:.3f}" for g in gaps]


def test_8_10_reading_follows_the_sign_of_the_measured_change(solved, aug) -> None:
    r = aug["results"]

    def gap(run: str) -> float:
        f = r["runs"][run]["final"]
        return float(np.mean([t - v for t, v in zip(f["train_acc"], f["val_acc"])]))

    change = gap("augmented") - gap("plain")
    text = _prose(solved["8.10"], "d")
    assert ("augmentation shrank the accuracy gap" if change < 0 else
            "augmentation did not shrink the accuracy gap") in text
    val = r["val_size"]
    images = sum(round(a * val) - round(p * val) for a, p in
                 zip(r["runs"]["augmented"]["final"]["val_acc"],
                     r["runs"]["plain"]["final"]["val_acc"]))
    word = "more" if images > 0 else "fewer"
    assert f"classify {abs(images)} {word} of the" in text
    smaller = sum(a - v < p - w for a, v, p, w in zip(
        r["runs"]["augmented"]["final"]["train_acc"], r["runs"]["augmented"]["final"]["val_acc"],
        r["runs"]["plain"]["final"]["train_acc"], r["runs"]["plain"]["final"]["val_acc"]))
    assert f"smaller with augmentation in {smaller} of" in text
    assert smaller == r["effect"]["smaller_acc_gap_seeds"]


# -- 8.11 ----------------------------------------------------------------------------------------

def test_8_11_five_correct_images_of_different_classes(solved, cam) -> None:
    (table,) = blocks(solved["8.11"], "a", Table)
    labels = [row[0] for row in table.rows]
    assert [row[2] for row in table.rows] == labels          # correctly classified
    assert len(set(labels)) == len(labels) == 5
    assert labels == cam["config"]["classes"]
    fig = _figure(solved["8.11"], "b", "grad-cam-heatmaps")
    assert fig.svg.count("<rect") == 1 + 10 * 64              # background + 10 grids of 8 x 8


def test_8_11_stored_maps_are_upsampled_4x4_grids() -> None:
    """Grad-CAM reads 4 x 4 maps: each stored 8 x 8 map is PyTorch's bilinear upsampling of
    a 4 x 4 grid (recovered here by least squares against torch's own interpolation)."""
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    r = json.loads((RESULTS / "grad-cam.json").read_text())["results"]
    maps = [e["heatmap"] for e in r["examples"]] + list(r["contrast"]["heatmap"].values())
    # the upsampling is linear: its matrix, column by column, from torch
    basis = torch.eye(16, dtype=torch.float64).reshape(16, 1, 4, 4)
    up = F.interpolate(basis, size=(8, 8), mode="bilinear", align_corners=False)
    matrix = up.reshape(16, 64).T.numpy()
    for m in maps:
        target = np.asarray(m).ravel()
        coef, *_ = np.linalg.lstsq(matrix, target, rcond=None)
        assert np.abs(matrix @ coef - target).max() < 1e-4


def test_8_11_feature_map_answer(solved) -> None:
    assert answers(solved["8.11"], "b")["feature maps read by Grad-CAM"] == "4 × 4"


def test_8_11_contrast_numbers(solved, cam) -> None:
    c = cam["results"]["contrast"]
    p = np.asarray(c["heatmap"]["predicted"]).ravel()
    o = np.asarray(c["heatmap"]["other"]).ravel()
    corr = np.corrcoef(p, o)[0, 1]
    assert corr == pytest.approx(c["correlation"], abs=1e-4)
    text = _prose(solved["8.11"], "c")
    assert f"correlation is {corr:.2f}" in text
    left_p = p.reshape(8, 8)[:, :4].sum() / p.sum()
    assert f"puts {left_p:.2f} of its weight in the left half" in text
    fig = _figure(solved["8.11"], "c", "grad-cam-contrast")
    assert f"predicted class {c['predicted']} and for class {c['other']}" in fig.caption


def test_8_11_marker_findings(solved, cam) -> None:
    m = cam["results"]["marker"]
    text = _prose(solved["8.11"], "d")
    rate = m["others"]["rate_predicted_marker_class"]
    assert f"call {rate['marked']:.3f} of these images a {m['class']}" in text
    own = m["own_class"]
    assert f"for {round(own['peak_on_marker_rate_marked'] * own['count'])} of them" in text
    # the marker's area from the configuration, counted on the pixel grid
    rows, cols = cam["config"]["marker"]["rows"], cam["config"]["marker"]["cols"]
    square = [(i, j) for i in range(8) for j in range(8)
              if rows[0] <= i < rows[1] and cols[0] <= j < cols[1]]
    assert len(square) / 64 == m["marker_area_fraction"]
    share = m["others"]["marker_fraction"]["marked"]
    assert f"({share / m['marker_area_fraction']:.1f} times its share of the area" in text
    for e in m["examples"]:
        grid = np.asarray(e["heatmap_marked"])
        inside = sum(grid[i, j] for i, j in square) / grid.sum()
        assert inside == pytest.approx(e["marker_fraction_marked"], abs=1e-4)
        assert e["predicted_clean"] == e["label"] and e["predicted_marked"] == m["class"]
