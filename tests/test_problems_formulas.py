"""The formula sheet (problems/formulas): every subtopic of the chapter notes is present, every
part solves with checked evidence and nothing refuted, and key answers agree with
independent re-computations (brute force, NumPy, exact fractions, published values)."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from derive.book.model import Answer, Check, Derivation
from derive.problems import discover, load, solve

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = ROOT / "problems"
REFERENCE = ROOT.parent / "shared" / "reference"
if not REFERENCE.exists():
    REFERENCE = Path("/work/shared/reference")

# The chapter notes' ten sections and their fifty subtopics, restated.
SECTIONS: dict[int, tuple[str, tuple[str, ...]]] = {
    1: ("Convolution as a local linear map",
        ("local receptive field", "weight sharing", "translation equivariance",
         "cross-correlation convention", "channels")),
    2: ("Output shape arithmetic", ("stride", "padding", "dilation", "output height",
                                    "same convolution")),
    3: ("Parameter and FLOP counts", ("parameter count", "output elements", "FLOPs",
                                      "1 x 1 convolution", "depthwise separable")),
    4: ("Pooling and downsampling", ("max pooling", "average pooling", "strided convolution",
                                     "global average pooling", "aliasing")),
    5: ("Receptive field", ("single layer", "stacked layers", "jump", "dilation effect",
                            "effective receptive field")),
    6: ("Backpropagation through convolution", ("kernel gradient", "input gradient",
                                                "bias gradient", "im2col view",
                                                "autodiff check")),
    7: ("CNN building blocks", ("conv activation norm", "residual block", "bottleneck block",
                                "batch normalization", "dropout and augmentation")),
    8: ("Vision tasks", ("classification", "detection", "segmentation", "feature pyramids",
                         "transfer learning")),
    9: ("CNNs and modern AI", ("inductive bias", "data efficiency", "hybrid models",
                               "patch embedding", "when CNNs still matter")),
    10: ("Diagnostics", ("shape checks", "kernel visualization", "activation statistics",
                         "receptive field test", "ablations")),
}
CHEAP = ("formulas-3", "formulas-8", "formulas-9")


def _files():
    return [pf for pf in discover(PROBLEMS) if pf.set == "formulas"]


@pytest.fixture(scope="module")
def problems():
    return {p.id: p for p in (load(pf) for pf in _files())}


@pytest.fixture(scope="module")
def solved(problems):
    return {pid: solve(p) for pid, p in problems.items()}


def _answer(result, label: str, name: str):
    part = next(p for p in result.parts if p.part.label == label)
    return next(b.value for b in part.blocks if isinstance(b, Answer) and b.label == name)


def _check_parts(result) -> None:
    for part in result.parts:
        where = f"{result.problem.id}({part.part.label})"
        assert not part.error, f"{where}: {part.error}"
        assert part.status in ("proved", "tested"), f"{where}: {part.status}"
        assert any(isinstance(b, (Derivation, Check)) for b in part.blocks), where
        assert any(isinstance(b, Answer) for b in part.blocks), f"{where}: no answer"


# ------------------------------------------------------------------------------ structure
def test_every_subtopic_is_present(problems) -> None:
    assert sorted(problems, key=lambda s: int(s.split("-")[1])) == [
        f"formulas-{n}" for n in SECTIONS]
    for n, (title, subtopics) in SECTIONS.items():
        p = problems[f"formulas-{n}"]
        assert p.set == "formulas" and p.order == n
        assert p.title.lower().replace("normalisation", "normalization") == title.lower()
        assert [part.label for part in p.parts] == [f"{n}.{k}" for k in range(1, 6)]
        for part, name in zip(p.parts, subtopics):
            words = name.lower().replace("normalization", "normalis").split()[0]
            assert words[:5] in part.prompt.lower().replace("normalisation", "normalis"), (
                part.label, name)
    assert sum(len(p.parts) for p in problems.values()) == 50


def test_every_part_is_in_scope_with_a_solution(problems) -> None:
    for p in problems.values():
        assert all(part.solve is not None and part.scope == "checked" for part in p.parts)


# ------------------------------------------------------------------------------ solving
@pytest.mark.parametrize("pid", CHEAP)
def test_cheap_sections_solve_with_checked_evidence(problems, pid: str) -> None:
    _check_parts(solve(problems[pid]))


@pytest.mark.slow
def test_every_section_solves_with_checked_evidence(solved) -> None:
    counts = {"proved": 0, "tested": 0}
    for result in solved.values():
        _check_parts(result)
        for part in result.parts:
            counts[part.status] += 1
    assert counts["proved"] >= 40          # most relations are proofs, not samples


# ------------------------------------------------------------------------------ answers
def _brute_output_size(n: int, k: int, p: int, s: int, d: int) -> int:
    return sum(1 for t in range(0, n + 2 * p, s) if t + d * (k - 1) <= n + 2 * p - 1)


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 20), k=st.integers(1, 5), p=st.integers(0, 3), s=st.integers(1, 4),
       d=st.integers(1, 3))
def test_output_height_relation_matches_brute_force(solved, n, k, p, s, d) -> None:
    if d * (k - 1) + 1 > n + 2 * p:
        return
    rel = _answer(solved["formulas-2"], "2.4", "output height")
    names = {str(x): x for x in rel.rhs.free_symbols}
    value = rel.rhs.subs({names["H"]: n, names["K"]: k, names["P"]: p, names["S"]: s,
                          names["D"]: d})
    assert int(value) == _brute_output_size(n, k, p, s, d)


@pytest.mark.slow
def test_effective_field_variance_against_repeated_convolution(solved) -> None:
    expr = _answer(solved["formulas-5"], "5.5", "effective field variance")
    names = {str(x): x for x in expr.free_symbols}
    for k in (2, 3, 4, 7):
        for depth in (1, 2, 5):
            w = np.array([1], dtype=np.int64)
            for _ in range(depth):
                w = np.convolve(w, np.ones(k, dtype=np.int64))
            t = np.arange(len(w))
            total = int(w.sum())
            mean = Fraction(int((t * w).sum()), total)
            var = sum(Fraction(int(c)) * (int(i) - mean) ** 2 for i, c in zip(t, w)) / total
            assert expr.subs({names["K"]: k, names["L"]: depth}) == sympy.Rational(
                var.numerator, var.denominator)


def test_patch_embedding_and_bottleneck_numbers(problems) -> None:
    r9 = solve(problems["formulas-9"])
    assert _answer(r9, "9.4", "tokens at 224, p = 16") == (224 // 16) ** 2
    weights = np.zeros((768, 3, 16, 16)).size + np.zeros(768).size
    assert _answer(r9, "9.4", "patch-embedding parameters (D = 768)") == weights
    r3 = solve(problems["formulas-3"])
    assert _answer(r3, "3.1", "3x3, 64 -> 128") == np.zeros((128, 64, 3, 3)).size + 128


@pytest.mark.slow
def test_bottleneck_ratio_by_hand(solved) -> None:
    m = 16
    bottleneck = (4 * m) * m + 9 * m * m + m * (4 * m)
    basic = 2 * 9 * (4 * m) ** 2
    assert _answer(solved["formulas-7"], "7.3", "parameter ratio (e = 4)") == sympy.Rational(
        bottleneck, basic)


@pytest.mark.slow
def test_receptive_field_matches_published_vgg16(solved) -> None:
    path = REFERENCE / "receptive_field_tfslim.json"
    if not path.exists():
        pytest.skip("reference data not present")
    published = json.loads(path.read_text())["networks"]["vgg_16"]["size"]
    assert _answer(solved["formulas-5"], "5.2", "VGG-16 (last conv)") == published


@pytest.mark.slow
def test_relu_statistics_by_sampling(solved) -> None:
    rng = np.random.default_rng(123)          # a different seed from the solution's
    z = np.maximum(rng.standard_normal(200_000), 0.0)
    mean = float(_answer(solved["formulas-10"], "10.3", "mean"))
    assert abs(z.mean() - mean) < 5e-3
    assert abs((z == 0).mean() - float(_answer(solved["formulas-10"], "10.3",
                                               "zero fraction"))) < 5e-3
    assert abs(z.var() - float(_answer(solved["formulas-10"], "10.3", "variance"))) < 5e-3


def test_linear_probe_fraction(problems) -> None:
    r8 = solve(problems["formulas-8"])
    assert _answer(r8, "8.5", "linear probe, 10 classes") == np.zeros((10, 2048)).size + 10
    assert _answer(r8, "8.1", "ResNet-50 head (2048 -> 1000)") == 2048 * 1000 + 1000
