"""Practice exercises 1 to 10 (the exercises notebook): every exercise and part present,
solved without refuted or failed steps, with the expected status; key answers recomputed
here independently (brute force, NumPy, exact fractions), never copied from the engine."""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from derive.book.model import Answer, Figure
from derive.problems import ProblemFile, discover, load, solve

ROOT = Path(__file__).resolve().parents[1] / "problems"

# The notebook's ten exercises as we restate them: id -> part labels ("" = single part).
EXERCISES = {
    "practice-1": [""],               # valid 1D cross-correlation
    "practice-2": [""],               # output size
    "practice-3": [""],               # parameters of a 3x3 conv, 16 -> 32
    "practice-4": ["a", "b", "c"],    # dense weights, conv weights, their ratio
    "practice-5": ["a", "b"],         # max and average of a 2x2 patch
    "practice-6": [""],               # receptive field of two 3x3 layers
    "practice-7": [""],               # depthwise-separable count
    "practice-8": [""],               # im2col shape
    "practice-9": [""],               # residual output
    "practice-10": ["a", "b", "c", "d"],  # four checks
}
# Parts that ask for an explanation (the checklist items): marked "explanation" whatever
# checked facts support them; every other part is proved.
EXPLAINED = {("practice-10", label) for label in "abcd"}


def _files() -> dict[str, ProblemFile]:
    return {load(pf).id: pf for pf in discover(ROOT) if pf.set == "practice"}


@pytest.fixture(scope="module")
def solved() -> dict:
    return {pid: solve(load(pf)) for pid, pf in _files().items()}


def _answers(result, label: str = "") -> dict[str, object]:
    part = next(p for p in result.parts if p.part.label == label)
    return {b.label: b.value for b in part.blocks if isinstance(b, Answer)}


# -- coverage and statuses ------------------------------------------------------------------------

def test_every_exercise_and_part_is_present() -> None:
    files = _files()
    assert sorted(files, key=lambda s: int(s.split("-")[1])) == list(EXERCISES)
    for pid, labels in EXERCISES.items():
        problem = load(files[pid])
        assert problem.set == "practice" and problem.order == int(pid.split("-")[1])
        assert [p.label for p in problem.parts] == labels, pid
        assert problem.statement and all(p.prompt for p in problem.parts)


def test_every_part_is_checked_with_the_expected_status(solved) -> None:
    for pid, result in solved.items():
        for part in result.parts:
            expected = "explanation" if (pid, part.part.label) in EXPLAINED else "proved"
            assert part.status == expected, (pid, part.part.label, part.status, part.error)


def test_explanation_parts_explain_and_still_check(solved) -> None:
    from derive.book.model import Check, Explanation
    for pid, label in EXPLAINED:
        part = next(p for p in solved[pid].parts if p.part.label == label)
        assert any(isinstance(b, Explanation) for b in part.blocks), (pid, label)
        numeric = [b for b in part.blocks if isinstance(b, Check) and b.kind == "numeric"]
        assert numeric and all(c.verdict.status.value in ("proved", "tested") for c in numeric)


def test_every_part_has_an_answer_and_a_cross_check(solved) -> None:
    from derive.book.model import Check
    for pid, result in solved.items():
        for part in result.parts:
            kinds = {type(b) for b in part.blocks}
            assert Answer in kinds, (pid, part.part.label)
            assert any(isinstance(b, Check) and b.kind == "numeric" for b in part.blocks), (
                pid, part.part.label)


def test_receptive_field_figure_is_drawn(solved) -> None:
    figures = [b for p in solved["practice-6"].parts for b in p.blocks
               if isinstance(b, Figure)]
    assert len(figures) == 1
    fig = figures[0]
    assert fig.tikz.startswith(r"\begin{tikzpicture}") and fig.svg.startswith("<svg")
    # input row + two layers: 5 + 3 + 1 filled cells (the units the top unit depends on)
    assert fig.svg.count('fill="#6f8fd8"') == 5 + 3 + 1


# -- answers recomputed independently -----------------------------------------------------------

def test_practice_1_output(solved) -> None:
    x, w = [1, 2, 3], [1, -1]
    expected = tuple(sum(x[i + u] * w[u] for u in range(len(w)))
                     for i in range(len(x) - len(w) + 1))
    assert _answers(solved["practice-1"])["y"] == expected


def _count_windows(n: int, k: int, p: int, s: int, d: int) -> int:
    """Positions i >= 0 whose taps s*i + d*u stay inside [0, n + 2p)."""
    return sum(1 for i in range(n + 2 * p)
               if all(0 <= s * i + d * u < n + 2 * p for u in range(k)))


def test_practice_2_output_size(solved) -> None:
    assert _answers(solved["practice-2"])["H_out"] == _count_windows(32, 3, 1, 1, 1)


def test_practice_3_and_7_parameter_counts(solved) -> None:
    conv = np.zeros((32, 16, 3, 3)).size + np.zeros(32).size
    assert _answers(solved["practice-3"])["params"] == conv
    separable = np.zeros((32, 1, 3, 3)).size + np.zeros((64, 32, 1, 1)).size
    assert _answers(solved["practice-7"])["params"] == separable


def test_practice_4_counts_and_ratio(solved) -> None:
    result = solved["practice-4"]
    dense, conv = 32 * 32 * 3 * 64, 64 * 3 * 3 * 3
    assert _answers(result, "a")["dense weights"] == dense
    assert _answers(result, "b")["conv weights"] == conv
    assert _answers(result, "c")["dense / conv"] == sympy.Rational(dense, conv)


def test_practice_5_pooling(solved) -> None:
    patch = [1, 5, 2, 4]
    assert _answers(solved["practice-5"], "a")["max"] == max(patch)
    assert _answers(solved["practice-5"], "b")["avg"] == Fraction(sum(patch), len(patch))


def test_practice_6_receptive_field(solved) -> None:
    # controlled input: response of one output of two 3x3 box filters to each input pixel
    x = np.zeros(9)
    affected = []
    for pos in range(9):
        e = x.copy()
        e[pos] = 1.0
        y = np.convolve(np.convolve(e, np.ones(3), "valid"), np.ones(3), "valid")
        if y[0] != 0:
            affected.append(pos)
    assert _answers(solved["practice-6"])["R"] == len(affected)


def test_practice_8_im2col_shape(solved) -> None:
    x = np.arange(16).reshape(4, 4)
    cols = [x[i:i + 2, j:j + 2].ravel() for i in range(3) for j in range(3)]
    assert _answers(solved["practice-8"])["shape"] == np.stack(cols, axis=1).shape


def test_practice_9_residual(solved) -> None:
    y = _answers(solved["practice-9"])["y"]
    assert list(y) == [Fraction("1.0") + Fraction("-0.5"), Fraction("2.0") + Fraction("0.25")]


def test_practice_10_answers(solved) -> None:
    result = solved["practice-10"]
    out = (32 + 2 * 1 - 3) // 2 + 1
    assert _answers(result, "a")["output shape"] == (8, 16, out, out)
    # field of 3x3 layers with strides 1, 2, 1: walk back from unit 0
    seen = {0}
    for s in (1, 2, 1)[::-1]:
        seen = {s * i + u for i in seen for u in range(3)}
    assert _answers(result, "c")["receptive field"] == max(seen) - min(seen) + 1
    # the channel with bias -6 is the dead one
    assert _answers(result, "d")["dead channel"] == 2


def test_practice_10b_answer_is_the_size_rule(solved) -> None:
    # the boxed answer is the rule the check uses: it must count the windows, dilation
    # included, in every small configuration where the dilated window fits
    rule = _answers(solved["practice-10"], "b")["H_out"]
    names = {s.name: s for s in rule.free_symbols}
    for n, k, p, s, d in itertools.product(range(1, 10), range(1, 4), range(0, 3),
                                           range(1, 4), range(1, 3)):
        if d * (k - 1) + 1 > n + 2 * p:
            continue
        value = rule.subs({names["H"]: n, names["K"]: k, names["P"]: p, names["S"]: s,
                           names["D"]: d})
        assert value == _count_windows(n, k, p, s, d), (n, k, p, s, d)


def _part_blocks(result, label: str):
    return next(p for p in result.parts if p.part.label == label).blocks


def test_practice_10a_shows_its_input_and_the_shape_follows(solved) -> None:
    from derive.book.model import Table, Text
    from derive.render.markdown import render_problem

    blocks = _part_blocks(solved["practice-10"], "a")
    text = " ".join(b.text for b in blocks if isinstance(b, Text))
    assert "stride 2 with padding 1" in text
    shapes = {r[0]: r[1] for b in blocks if isinstance(b, Table) for r in b.rows
              if all(isinstance(v, int) for v in r[1])}
    n, c_in, h, w = shapes["input $x$"]
    c_out, c_w, k, k2 = shapes["weight $w$"]
    assert (c_w, k2) == (c_in, k)
    size = len(range(0, h + 2 * 1 - k + 1, 2))          # window starts, stride 2, padding 1
    assert _answers(solved["practice-10"], "a")["output shape"] == (n, c_out, size, size)
    section = render_problem(solved["practice-10"]).split("## (b)")[0]
    assert r"\left(8, 3, 32, 32\right)" in section and r"\left(16, 3, 3, 3\right)" in section


def test_practice_10c_shows_its_network_and_it_reproduces_the_field(solved) -> None:
    from derive.book.model import MatrixView, Text
    from derive.render.markdown import render_problem

    blocks = _part_blocks(solved["practice-10"], "c")
    kernels = [np.asarray(b.matrix) for b in blocks if isinstance(b, MatrixView)]
    text = " ".join(b.text for b in blocks if isinstance(b, Text))
    assert "strides 1, 2, 1 and no padding" in text and len(kernels) == 3
    strides = (1, 2, 1)

    def first_unit(img):
        for k, s in zip(kernels, strides):
            n = (img.shape[0] - 3) // s + 1
            img = np.array([[np.sum(k * img[s * i:s * i + 3, s * j:s * j + 3])
                             for j in range(n)] for i in range(n)])
        return img[0, 0]

    side = 13
    moved = [(i, j) for i in range(side) for j in range(side)
             if first_unit(np.eye(1, side * side, i * side + j).reshape(side, side)) != 0]
    rows = {i for i, _ in moved}
    assert _answers(solved["practice-10"], "c")["receptive field"] == max(rows) - min(rows) + 1
    section = render_problem(solved["practice-10"]).split("## (c)")[1].split("## (d)")[0]
    assert all(f"w_{{{n}}} = \\begin{{bmatrix}}" in section for n in (1, 2, 3))


# -- the brute force used inside practice-2 agrees with the definition, for many sizes --------

@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 30), k=st.integers(1, 6), p=st.integers(0, 3), s=st.integers(1, 4),
       d=st.integers(1, 3))
def test_practice_2_brute_force_is_sound(n, k, p, s, d) -> None:
    module = _module("practice-2")
    if d * (k - 1) + 1 > n + 2 * p:
        return
    assert module._windows_inside(n, k, p, s, d) == _count_windows(n, k, p, s, d)


def _module(pid: str):
    import sys
    pf = _files()[pid]
    load(pf)
    return sys.modules["derive_problems." + pf.relpath[:-3].replace("/", "_")]


def test_statements_restate_the_numbers() -> None:
    files = _files()
    wanted = {"practice-2": ["32", "3", "1"], "practice-3": ["16", "32", "3×3"],
              "practice-4": ["32×32", "64"], "practice-7": ["32", "64"],
              "practice-8": ["4×4", "2×2"]}
    for pid, numbers in wanted.items():
        statement = load(files[pid]).statement
        for number in numbers:
            assert number in statement, (pid, number)


def test_figure_geometry_matches_enumeration() -> None:
    """The figure helper's filled cells per row are the units the top unit depends on."""
    module = _module("practice-6")
    from derive.conv.layers import Layer
    strides = (1, 2, 1, 2)
    layers = [Layer("conv", kernel=3, stride=s) for s in strides]
    fig = module._figures().receptive_growth(layers, name="t", caption="c")
    filled = fig.svg.count('fill="#6f8fd8"')
    expected = 0
    for level in range(len(strides) + 1):
        seen = {0}
        for s in strides[level:][::-1]:
            seen = {s * i + u for i in seen for u in range(3)}
        expected += len(seen)
    assert filled == expected
    assert list(itertools.islice(iter(fig.tikz.splitlines()), 1)) == [
        r"\begin{tikzpicture}[font=\footnotesize]"]


# -- the page: author text in mathematics, inputs shown, the same with or without PyTorch -----

def _author_texts(result) -> list[str]:
    """Every piece of prose the problem file writes (statement, prompts, text, explanations,
    the quantity of each check, table headers and cells, captions, units)."""
    from derive.book.model import Check, Explanation, MatrixView, Table, Text
    out = [result.problem.statement] + [p.part.prompt for p in result.parts]
    for part in result.parts:
        for b in part.blocks:
            if isinstance(b, (Text, Explanation)):
                out.append(b.text)
            elif isinstance(b, Check):
                out.append(b.why)
            elif isinstance(b, Table):
                out += [*b.headers, b.caption] + [c for r in b.rows for c in r
                                                  if isinstance(c, str)]
            elif isinstance(b, MatrixView):
                out.append(b.caption)
            elif isinstance(b, Answer):
                out.append(b.unit)
    return out


def test_author_text_has_no_program_notation(solved) -> None:
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from leaks import leaks_in_prose

    from derive.render.prose import split
    for pid, result in solved.items():
        for text in _author_texts(result):
            prose = " ".join(piece for is_math, piece in split(text) if not is_math)
            assert not leaks_in_prose(prose), (pid, text)


def test_practice_5_windows_cover_the_patch(solved) -> None:
    from derive.book.model import Table
    patch = np.array([[1, 5], [2, 4]])
    blocks = _part_blocks(solved["practice-5"], "a")
    (table,) = [b for b in blocks if isinstance(b, Table)]
    # one window, and its entries (row by row) are the whole patch
    assert [tuple(r[-1]) for r in table.rows] == [tuple(patch.ravel())]


def test_practice_8_patch_matrix_holds_the_windows(solved) -> None:
    from derive.book.model import MatrixView
    blocks = _part_blocks(solved["practice-8"], "")
    (view,) = [b for b in blocks if isinstance(b, MatrixView) and b.name == "X_col"]
    image = np.arange(16).reshape(4, 4)
    x = sympy.IndexedBase("x")
    numbers = view.matrix.xreplace({x[i, j]: int(image[i, j]) for i in range(4)
                                    for j in range(4)})
    windows = np.lib.stride_tricks.sliding_window_view(image, (2, 2)).reshape(9, 4).T
    assert np.array_equal(np.array(numbers.tolist(), dtype=int), windows)


def test_practice_pages_do_not_depend_on_pytorch(solved, monkeypatch) -> None:
    import sys

    from derive.render.markdown import render_problem
    monkeypatch.setitem(sys.modules, "torch", None)    # "import torch" now fails
    files = _files()
    for pid in ("practice-1", "practice-4", "practice-7", "practice-10"):
        without = solve(load(files[pid]))
        assert render_problem(without) == render_problem(solved[pid]), pid
