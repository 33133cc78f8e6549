"""The pages of exercises 8.12 (mixup) and 8.15 (pre-activation ResNet): part scopes and
statuses, the printed listings and the tests that check them, and the page's figures,
tables and verdicts against recomputations from the stored results done here (never copied
from the page).  The pages build without PyTorch; the tests that need it skip without it.
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from derive.book.model import (Answer, Check, Derivation, Explanation, Figure, Listing,
                               Measurement, Table, Text)
from derive.check.verdict import Status
from lab_pages import part_named, solve_page, stored

ROOT = Path(__file__).resolve().parents[1]
CHAPTER8 = ROOT / "problems" / "chapter8"
RESULTS = ROOT / "derive" / "lab" / "results"
FILES = {"8.12": "e08_12_mixup.py", "8.15": "e08_15_pre_activation.py"}
STATUSES = {"8.12": {"a": "code", "b": "proved", "c": "experiment"},
            "8.15": {"a": "code", "b": "experiment", "c": "experiment", "d": "explanation"}}
LISTINGS = {("8.12", "a"): "mixup", ("8.15", "a"): "resnet_blocks"}
EXPERIMENTS = {("8.12", "c"): "mixup", ("8.15", "b"): "pre-activation",
               ("8.15", "c"): "pre-activation"}


@pytest.fixture(scope="module")
def solved() -> dict:
    return {pid: solve_page(FILES[pid]) for pid in FILES}


def _blocks(solved, pid: str, label: str) -> tuple:
    return part_named(solved[pid], label).blocks


def _of(blocks, kind) -> list:
    return [b for b in blocks if isinstance(b, kind)]


def _prose(blocks) -> str:
    return " ".join(b.text for b in blocks if isinstance(b, (Text, Explanation)))


def _stored(name: str) -> dict:
    return stored(name)["results"]


def _checks(result) -> list[Check]:
    out = []
    for part in result.parts:
        out += [b for b in part.blocks if isinstance(b, Check)]
    return out


# --------------------------------------------------------------------------- structure
@pytest.mark.parametrize("pid", sorted(FILES))
def test_parts_have_the_intended_scope_and_status(solved, pid: str) -> None:
    result = solved[pid]
    assert {p.part.label: p.status for p in result.parts} == STATUSES[pid]
    assert all(not p.error for p in result.parts)
    for part in result.parts:
        for block in part.blocks:
            if isinstance(block, Derivation):
                assert all(s.verdict.status is Status.PROVED for s in block.steps[1:])
    for check in _checks(result):
        allowed = {Status.PROVED, Status.TESTED}
        if check.kind == "optional" and check.rhs is None:   # the package is not installed
            allowed = {Status.UNKNOWN}
        assert check.status in allowed, (pid, check.why, check.verdict)


@pytest.mark.parametrize("where", sorted(LISTINGS))
def test_code_parts_print_their_listing_and_name_a_test_that_imports_it(solved, where):
    pid, label = where
    (listing,) = _of(_blocks(solved, pid, label), Listing)
    name = LISTINGS[where]
    assert listing.name == name
    assert listing.source == (ROOT / "derive" / "lab" / "listings" / f"{name}.py").read_text(
        encoding="utf-8")
    test_file = (ROOT / listing.tests).read_text(encoding="utf-8")
    assert f"from derive.lab.listings.{name} import" in test_file
    assert "importorskip(\"torch\"" in test_file


@pytest.mark.parametrize("where", sorted(EXPERIMENTS))
def test_experiment_parts_show_their_measurement(solved, where) -> None:
    pid, label = where
    (box,) = _of(_blocks(solved, pid, label), Measurement)
    assert box.experiment == EXPERIMENTS[where]
    record = json.loads((RESULTS / f"{box.experiment}.json").read_text(encoding="utf-8"))
    assert box.scaling == record["scaling"] and box.seed == record["config"]["seed"]


def test_figures_have_unique_names(solved) -> None:
    names = [b.name for r in solved.values() for p in r.parts for b in p.blocks
             if isinstance(b, Figure)]
    assert len(names) == len(set(names)) == 6
    assert all(n.startswith(("mixup-", "preact-")) for n in names)


def test_optional_torch_checks_ran_and_agree(solved) -> None:
    pytest.importorskip("torch")
    optional = [c for r in solved.values() for c in _checks(r) if c.kind == "optional"]
    # 8.12: three on the mixer, one on the loss; 8.15: two blocks, one parameter count
    assert len(optional) == 7
    assert all(c.rhs is not None and c.status in (Status.PROVED, Status.TESTED)
               for c in optional)


def test_pages_build_without_torch_or_scikit_learn() -> None:
    # The stored-results loader finds a record's path through the experiment's module, and
    # the digits experiments import PyTorch at module level; that lookup is replaced here by
    # the bare path, so what is tested is that the pages themselves need neither package.
    code = (
        "import sys\n"
        "for m in ('torch', 'sklearn'):\n"
        "    sys.modules[m] = None\n"
        "from pathlib import Path\n"
        "from derive.lab import runner\n"
        "runner.result_path = lambda name, full=False: (\n"
        "    runner.results_dir() / f\"{name}{'.full' if full else ''}.json\")\n"
        "from derive.problems import ProblemFile, load, solve\n"
        f"for name in {sorted(FILES.values())!r}:\n"
        "    path = Path('problems/chapter8') / name\n"
        "    r = solve(load(ProblemFile('chapter8', path, 'chapter8/' + name)))\n"
        "    print(name, [(p.part.label, p.status, p.error) for p in r.parts])\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True, env={"PYTHONPATH": str(ROOT)}).stdout
    for pid, name in FILES.items():
        line = next(x for x in out.splitlines() if x.startswith(name))
        assert line == f"{name} " + repr([(k, v, "") for k, v in STATUSES[pid].items()])


# --------------------------------------------------------------------------- 8.12
def test_8_12_answers_of_a_and_b_are_kept(solved) -> None:
    import sympy
    answers = {b.label: b.value for b in _of(_blocks(solved, "8.12", "a"), Answer)}
    assert answers["mean of the mixing weight"] == sympy.Rational(1, 2)
    assert "Mixup loss" in {b.label for b in _of(_blocks(solved, "8.12", "b"), Answer)}


def test_8_12_table_and_verdict_follow_the_stored_runs(solved) -> None:
    r = _stored("mixup")
    base, mix = r["runs"]["baseline"]["final"], r["runs"]["mixup"]["final"]
    n = len(r["seeds"])
    blocks = _blocks(solved, "8.12", "c")
    (table,) = _of(blocks, Table)
    assert [row[0] for row in table.rows] == r["seeds"] + ["mean"]
    mean_b = sum(base["val_acc"]) / n
    mean_m = sum(mix["val_acc"]) / n
    loss_b = sum(base["val_loss"]) / n
    loss_m = sum(mix["val_loss"]) / n
    assert table.rows[-1][1:] == (f"{mean_b:.3f}", f"{mean_m:.3f}", f"{mean_m - mean_b:+.3f}",
                                  f"{loss_b:.3f}", f"{loss_m:.3f}")
    for row, b, m in zip(table.rows, base["val_acc"], mix["val_acc"]):
        assert row[1:4] == (f"{b:.3f}", f"{m:.3f}", f"{m - b:+.3f}")
    higher = sum(m > b for m, b in zip(mix["val_acc"], base["val_acc"]))
    lower = sum(m < b for m, b in zip(mix["val_acc"], base["val_acc"]))
    text = _prose(blocks)
    assert f"higher in {higher}, lower in {lower} and level in {n - higher - lower}" in text
    spread = statistics.stdev(m - b for m, b in zip(mix["val_acc"], base["val_acc"]))
    helped = mean_m > mean_b and 2 * higher > n and abs(mean_m - mean_b) >= spread
    assert ("mixup helped" in text) == helped
    assert ("mixup did not help" in text) == (mean_m <= mean_b)
    assert ("mixup did not measurably help" in text) == (mean_m > mean_b and not helped)
    assert ("within the seed-to-seed spread" in text) == (abs(mean_m - mean_b) < spread)
    assert ("lower by" in text) == (mean_m < mean_b)
    (answer,) = _of(blocks, Answer)
    assert answer.value == f"{mean_m - mean_b:+.3f} (higher in {higher} of {n} seeds)"


def test_8_12_curves_are_the_stored_means(solved) -> None:
    r = _stored("mixup")
    figures = {f.name: f for f in _of(_blocks(solved, "8.12", "c"), Figure)}
    assert set(figures) == {"mixup-val-acc", "mixup-val-loss"}
    for key in ("val_acc", "val_loss"):
        tikz = figures[f"mixup-{key.replace('_', '-')}"].tikz
        for arm in ("baseline", "mixup"):
            # the mean over the seeds of each epoch, recomputed from the per-seed finals for
            # the last epoch
            last = sum(r["runs"][arm]["final"][key]) / len(r["seeds"])
            assert abs(r["runs"][arm]["curves"][key][-1] - last) < 1e-5
            assert f"({r['epochs']},{r['runs'][arm]['curves'][key][-1]:.6g})" in tikz


# --------------------------------------------------------------------------- 8.15
def test_8_15_depth_and_paths_are_kept(solved) -> None:
    answers = {b.label: b.value for b in _of(_blocks(solved, "8.15", "b"), Answer)}
    n = next(k for k in range(1, 40) if 6 * k + 2 == 56)
    assert answers["blocks per stage"] == n
    assert answers["paths through the residual blocks"] == 2 ** (3 * n)


def test_8_15_parameter_gap_is_the_batch_norm_placement(solved) -> None:
    r = _stored("pre-activation")
    w0, w1, w2 = r["widths"]
    # post: BN after the stem and on the two projections; pre: a final BN, and the first BN
    # of each stage's first block reads the narrower input (2 parameters per channel)
    by_hand = 2 * w0 + 2 * (w1 + w2) - 2 * w2 + 2 * ((w1 - w0) + (w2 - w1))
    gap = r["parameters"]["post"] - r["parameters"]["pre"]
    assert gap == by_hand
    blocks = _blocks(solved, "8.15", "b")
    assert f"post-activation has {gap} more parameters" in _prose(blocks)
    table = next(t for t in _of(blocks, Table) if t.headers[0] == "network")
    trained = {row[1]: int(row[-1].replace(",", "")) for row in table.rows
               if row[0] == "trained here"}
    assert trained == {"post-activation": r["parameters"]["post"],
                       "pre-activation": r["parameters"]["pre"]}


def test_8_15_trained_networks_have_the_stored_parameter_counts() -> None:
    torch = pytest.importorskip("torch")
    from derive.lab.listings.resnet_blocks import (PostActivationBlock, PreActivationBlock,
                                                   resnet)
    r = _stored("pre-activation")
    for key, block in (("post", PostActivationBlock), ("pre", PreActivationBlock)):
        net = resnet(block, r["depth"], r["widths"][0], num_classes=10, in_channels=1)
        assert sum(p.numel() for p in net.parameters()) == r["parameters"][key]
        assert net.eval()(torch.zeros(2, 1, 8, 8)).shape == (2, 10)


def _first(curve: list[float], ok) -> int | None:
    return next((i + 1 for i, v in enumerate(curve) if ok(v)), None)


def test_8_15_thresholds_and_verdict_follow_the_per_seed_curves(solved) -> None:
    r = _stored("pre-activation")
    thr, epochs, k = r["thresholds"], r["epochs"], len(r["seeds"])
    blocks = _blocks(solved, "8.15", "c")
    (table,) = _of(blocks, Table)
    reach = {}
    for v in ("post", "pre"):
        seeds = r["runs"][v]["per_seed"]
        reach[v, "loss"] = [_first(c, lambda x: x <= thr["train_loss"])
                            for c in seeds["train_loss"]]
        reach[v, "acc"] = [_first(c, lambda x: x >= thr["val_acc"]) for c in seeds["val_acc"]]
    for i, row in enumerate(table.rows):
        expected = [reach[v, m][i] for m in ("loss", "acc") for v in ("post", "pre")]
        assert list(row[1:]) == [str(e) if e else f"not within {epochs}" for e in expected]

    def earlier(m: str) -> tuple[int, int]:
        pairs = [(a or epochs + 1, b or epochs + 1)
                 for a, b in zip(reach["post", m], reach["pre", m])]
        return sum(b < a for a, b in pairs), sum(b > a for a, b in pairs)

    (lw, ll), (aw, al) = earlier("loss"), earlier("acc")
    text = _prose(blocks)
    assert f"in {lw} of the {k} seeds and later in {ll}" in text
    assert f"earlier in {aw} and later in {al}" in text
    (answer,) = _of(blocks, Answer)
    if lw > ll and aw > al:
        assert answer.value == "pre-activation"
        wins = min(lw, aw)
        # a sign test: at least `wins` of k fair coin flips (ties counted against)
        p = Fraction(sum(math.comb(k, j) for j in range(wins, k + 1)), 2 ** k)
        assert f"probability {p}" in text
    elif ll > lw and al > aw:
        assert answer.value == "post-activation"
    else:
        assert answer.value == "not decided by the runs"


def test_8_15_curve_figures_hold_every_run(solved) -> None:
    r = _stored("pre-activation")
    figures = {f.name: f for f in _of(_blocks(solved, "8.15", "c"), Figure)}
    assert set(figures) == {"preact-val-accuracy", "preact-train-loss-seeds",
                            "preact-val-acc-seeds"}
    tikz = figures["preact-val-acc-seeds"].tikz
    for v in ("post", "pre"):
        for run in r["runs"][v]["per_seed"]["val_acc"]:
            assert f"({r['epochs']},{run[-1]:.6g})" in tikz
