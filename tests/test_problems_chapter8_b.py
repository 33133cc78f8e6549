"""Chapter 8, exercises 8.15 to 8.28: every exercise part is present, every problem solves
without a refuted or failed check, and key answers agree with re-computations done here by
brute force (never copied from the engine's output).

Solving the whole range takes a while (symbolic frequency responses, backward-pass chains,
equivariance searches), so the full solve is marked slow; the fast tests load the modules
and re-solve the cheap exercises.
"""

import math
import re
from fractions import Fraction
from pathlib import Path

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from derive.book.model import OUT_OF_SCOPE, Answer, Check, Derivation, Figure
from derive.check.verdict import Status
from derive.problems import ProblemFile, load, solve

ROOT = Path(__file__).resolve().parents[1] / "problems" / "chapter8"

# The exercise parts of the course (seed 003, exercises 8.15-8.28), restated as labels.
PARTS = {
    "8.15": "abcd", "8.16": "abcd", "8.17": "abc", "8.18": "abcd", "8.19": "abc",
    "8.20": "abc", "8.21": "abcd", "8.22": "abcdef", "8.23": "abc", "8.24": "abc",
    "8.25": "abc", "8.26": "abcd", "8.27": "abc", "8.28": "abcd",
}
# Parts that need data sets, training runs or hardware measurements.
OUT_OF_SCOPE_PARTS = {
    "8.15": "bc", "8.16": "abcd", "8.17": "abc", "8.18": "bcd", "8.19": "c", "8.25": "abc",
    "8.27": "abc",
}
CHEAP = ("8.16", "8.17", "8.18", "8.19", "8.20", "8.24", "8.25", "8.27", "8.28")


def _file(pid: str) -> Path:
    number = pid.split(".")[1]
    found = sorted(ROOT.glob(f"e08_{number}_*.py"))
    assert len(found) == 1, f"expected one module for {pid}, found {found}"
    return found[0]


def _load(pid: str):
    path = _file(pid)
    return load(ProblemFile("chapter8", path, f"chapter8/{path.name}"))


_SOLVED: dict[str, object] = {}


def _solved(pid: str):
    if pid not in _SOLVED:
        _SOLVED[pid] = solve(_load(pid))
    return _SOLVED[pid]


def _answers(result, label: str) -> dict[str, object]:
    part = next(p for p in result.parts if p.part.label == label)
    return {b.label: b.value for b in part.blocks if isinstance(b, Answer)}


def _bad_verdicts(result) -> list[str]:
    """Every refuted/error/unknown verdict, in every part (out-of-scope ones included)."""
    bad = []
    for part in result.parts:
        if part.error:
            bad.append(f"{part.part.label}: {part.error}")
        for block in part.blocks:
            verdicts = []
            if isinstance(block, Derivation):
                verdicts = [s.verdict for s in block.steps if s.verdict is not None]
            elif isinstance(block, Check):
                verdicts = [block.verdict]
            for v in verdicts:
                if v.status in (Status.REFUTED, Status.ERROR, Status.UNKNOWN):
                    bad.append(f"{part.part.label}: {v.status.value} {v.method}")
    return bad


def _check_figures(result) -> int:
    """Every figure has a TikZ picture and well-formed SVG; returns how many there are."""
    import xml.etree.ElementTree as ET
    count = 0
    for part in result.parts:
        for block in part.blocks:
            if isinstance(block, Figure):
                assert block.tikz.startswith(r"\begin{tikzpicture}")
                assert block.tikz.rstrip().endswith(r"\end{tikzpicture}")
                root = ET.fromstring(block.svg)
                assert root.tag.endswith("svg") and block.caption and block.name
                count += 1
    return count


def _number(text: str) -> int:
    return int(text.replace(",", ""))


# --------------------------------------------------------------------------- structure
@pytest.mark.parametrize("pid", sorted(PARTS))
def test_every_part_of_the_exercise_is_present(pid):
    problem = _load(pid)
    assert problem.id == pid and problem.set == "chapter8"
    assert [p.label for p in problem.parts] == list(PARTS[pid])
    oos = {p.label for p in problem.parts if p.scope == OUT_OF_SCOPE}
    assert oos == set(OUT_OF_SCOPE_PARTS.get(pid, "")), pid
    for part in problem.parts:
        if part.scope == OUT_OF_SCOPE:
            assert part.reason
    assert problem.order == int(pid.split(".")[1])


@pytest.mark.parametrize("pid", CHEAP)
def test_cheap_problems_solve_cleanly(pid):
    result = _solved(pid)
    assert _bad_verdicts(result) == []
    assert _check_figures(result) == (1 if pid in ("8.20", "8.24") else 0)
    for part in result.parts:
        if part.part.scope != OUT_OF_SCOPE:
            assert part.status in ("proved", "tested", "explanation"), (pid, part.part.label)


@pytest.mark.slow
@pytest.mark.parametrize("pid", sorted(set(PARTS) - set(CHEAP)))
def test_heavy_problems_solve_cleanly(pid):
    result = _solved(pid)
    assert _bad_verdicts(result) == []
    assert _check_figures(result) == (1 if pid == "8.21" else 0)
    statuses = {p.part.label: p.status for p in result.parts}
    assert all(s in ("proved", "tested", "explanation", "out-of-scope")
               for s in statuses.values()), statuses


# --------------------------------------------------------------------------- re-computations
def test_8_19_reduction_factor_by_counting():
    c, k = 512, 3
    standard = c * c * k * k
    separable = c * k * k + c * c
    answers = _answers(_solved("8.19"), "b")
    factor = Fraction(standard, separable)
    assert answers["FLOP reduction factor"].startswith(f"{factor.numerator}/{factor.denominator}")
    assert answers["parameter reduction factor"].startswith(f"{standard}/{separable}")


def test_8_20_parameter_ratio_by_counting():
    c, t = 32, 6
    inverted = c * (t * c) + 9 * (t * c) + (t * c) * c
    standard = 2 * 9 * c * c
    bn_inverted = 2 * (t * c) * 2 + 2 * c
    text = _answers(_solved("8.20"), "b")["parameters"]
    ratio = Fraction(inverted, standard)
    assert f"{inverted} vs {standard} weights" in text
    assert f"ratio {ratio.numerator}/{ratio.denominator}" in text
    assert f"with batch norm {inverted + bn_inverted} vs {standard + 4 * c}" in text


def test_8_24_stack_field_and_parameters_by_enumeration():
    offsets = {0}
    for d in (1, 2, 4):
        offsets = {o + u * d for o in offsets for u in range(3)}
    assert offsets == set(range(15))
    answers = _answers(_solved("8.24"), "b")
    assert answers["receptive field of the stack"] == f"{len(offsets)} x {len(offsets)}"
    c = sympy.Symbol("C", integer=True, positive=True)
    assert answers["parameters of the dilated stack (no bias)"] == 3 * 9 * c ** 2
    assert answers["parameters of one 15 x 15 layer (no bias)"] == 15 * 15 * c ** 2


def test_8_28_sizes_and_parameters_by_hand():
    size = 8                                   # after the stride-2 encoder convolution
    for _ in range(3):
        size = len({m * 2 + u for m in range(size) for u in range(4)}) - 2   # crop p = 1
    assert size == 64
    answers = _answers(_solved("8.28"), "a")
    assert answers["output shapes"] == f"(i) (1, {size}, {size}), (ii) (1, {size}, {size})"

    def conv(a, b, k):
        return b * a * k * k + b

    first = (conv(6, 64, 3) + conv(64, 128, 3) + conv(128, 64, 4) + conv(64, 32, 4)
             + conv(32, 16, 4) + conv(16, 1, 3))
    second = conv(6, 64, 3) + conv(64, 64, 3) + conv(64, 16, 3)
    text = _answers(_solved("8.28"), "b")["parameters"]
    assert [_number(v) for v in re.findall(r"[\d,]{4,}", text)] == [first, second]


def test_8_16_textcnn_parameters_by_hand():
    v, e, f = 20_000, 128, 128
    total = v * e + sum(f * e * k + f for k in (2, 3, 4, 5)) + (4 * f * 2 + 2)
    text = _answers(_solved("8.16"), "b")["TextCNN parameters"]
    assert _number(text.split(" ")[0]) == total


def test_8_27_resnet18_weights_by_hand():
    shapes = [(64, 3, 7, 7)]
    c_in = 64
    for width in (64, 128, 256, 512):
        for _ in range(2):
            shapes += [(width, c_in, 3, 3), (width, width, 3, 3)]
            if c_in != width:
                shapes.append((width, c_in, 1, 1))
            c_in = width
    weights = sum(math.prod(s) for s in shapes) + 512 * 10
    bn = 2 * (64 + sum(2 * w * 2 for w in (64, 128, 256, 512)) + 128 + 256 + 512)
    text = _answers(_solved("8.27"), "a")["ResNet-18, 10 classes"]
    numbers = [_number(v) for v in re.findall(r"[\d,]{4,}", text)]
    assert numbers == [weights + 10 + bn, weights]


@pytest.mark.slow
def test_8_21_patch_matrix_dimensions():
    answers = _answers(_solved("8.21"), "a")
    windows = sum(1 for i in range(4) for j in range(4) if i + 3 <= 4 and j + 3 <= 4)
    assert answers["dimensions"] == f"{9} x {windows}"


@pytest.mark.slow
def test_8_23_input_gradient_of_sum_by_loops():
    import numpy as np
    rng = np.random.default_rng(823)
    rng.integers(-5, 6, size=(1, 1, 5, 5))        # the input is drawn first; not needed
    w = rng.integers(-3, 4, size=(1, 1, 3, 3))
    grad = np.zeros((5, 5), dtype=int)
    for i in range(3):
        for j in range(3):
            grad[i:i + 3, j:j + 3] += w[0, 0]
    answer = _answers(_solved("8.23"), "c")["dL/dx for L = sum(y)"]
    assert answer.tolist() == grad.tolist()


# --------------------------------------------------------------------------- properties
@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40))
def test_kernel_4_stride_2_padding_1_doubles_by_scatter(n):
    from derive.conv.shapes import transposed_output_size
    reached = {m * 2 + u for m in range(n) for u in range(4)}
    assert transposed_output_size(n, 4, padding=1, stride=2) == len(reached) - 2 == 2 * n


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), st.integers(1, 4))
def test_pixel_shuffle_matches_the_proved_index_map(c, r, h, w):
    import numpy as np
    from derive.numeric import pixel_shuffle
    x = np.arange(c * r * r * h * w).reshape(c * r * r, h, w)
    out = pixel_shuffle(x, r)
    for q in range(c * r * r):
        cc, i, j = q // (r * r), (q // r) % r, q % r      # base-r digits of q
        for hh in range(h):
            for ww in range(w):
                assert out[cc, r * hh + i, r * ww + j] == x[q, hh, ww]
