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

from derive.book.model import (OUT_OF_SCOPE, Answer, Check, Derivation, Figure, Listing,
                               Measurement, Table)
from derive.check.verdict import Status
from derive.problems import ProblemFile, load, solve

ROOT = Path(__file__).resolve().parents[1] / "problems" / "chapter8"

# The exercise parts of the course (seed 003, exercises 8.15-8.28), restated as labels.
PARTS = {
    "8.15": "abcd", "8.16": "abcd", "8.17": "abc", "8.18": "abcd", "8.19": "abc",
    "8.20": "abc", "8.21": "abcd", "8.22": "abcdef", "8.23": "abc", "8.24": "abc",
    "8.25": "abc", "8.26": "abcd", "8.27": "abc", "8.28": "abcd",
}
# Parts that need data sets, training runs or hardware measurements: only the project
# catalogue of 8.25, which no package ships.
OUT_OF_SCOPE_PARTS = {"8.25": "abc"}
# Parts answered by a seeded experiment's stored measurements (marked "experiment").
EXPERIMENT_PARTS = {"8.15": "bc", "8.16": "abcd", "8.17": "abc", "8.18": "bcd", "8.19": "c",
                    "8.27": "abc"}
# Parts that ask for an implementation: answered by a printed, tested listing (marked "code").
CODE_PARTS = {"8.15": "a", "8.20": "a", "8.21": "c", "8.24": "c", "8.28": "b"}
# Figures per page (plots of stored measurements included).
FIGURES = {"8.15": 4, "8.16": 2, "8.18": 1, "8.19": 1, "8.20": 1, "8.21": 2, "8.22": 1,
           "8.23": 1, "8.24": 1, "8.26": 1, "8.27": 3, "8.28": 1}
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
    assert _check_figures(result) == FIGURES.get(pid, 0)
    for part in result.parts:
        if part.part.label in CODE_PARTS.get(pid, ""):
            assert part.status == "code", (pid, part.part.label)
            assert any(isinstance(b, Listing) for b in part.blocks), (pid, part.part.label)
        elif part.part.label in EXPERIMENT_PARTS.get(pid, ""):
            assert part.status == "experiment", (pid, part.part.label)
            assert any(isinstance(b, Measurement) for b in part.blocks), (pid, part.part.label)
        elif part.part.scope != OUT_OF_SCOPE:
            assert part.status in ("proved", "tested", "cross-checked", "explanation"), (
                pid, part.part.label)


@pytest.mark.slow
@pytest.mark.parametrize("pid", sorted(set(PARTS) - set(CHEAP)))
def test_heavy_problems_solve_cleanly(pid):
    result = _solved(pid)
    assert _bad_verdicts(result) == []
    assert _check_figures(result) == FIGURES.get(pid, 0)
    statuses = {p.part.label: p.status for p in result.parts}
    code = {label: statuses.pop(label) for label in CODE_PARTS.get(pid, "")}
    assert all(s == "code" for s in code.values()), code
    measured = {label: statuses.pop(label) for label in EXPERIMENT_PARTS.get(pid, "")}
    assert all(s == "experiment" for s in measured.values()), measured
    assert all(s in ("proved", "tested", "cross-checked", "explanation", "out-of-scope")
               for s in statuses.values()), statuses


# --------------------------------------------------------------------------- re-computations
def test_8_19_reduction_factor_by_counting():
    c, k = 512, 3
    standard = c * c * k * k
    separable = c * k * k + c * c
    answers = _answers(_solved("8.19"), "b")
    factor = Fraction(standard, separable)
    assert answers["FLOP reduction factor"] == sympy.Rational(factor.numerator,
                                                              factor.denominator)
    assert answers["parameter reduction factor"] == sympy.Rational(standard, separable)


def test_8_19_memory_traffic_counts_the_shared_weights_once():
    # batch 64 of 512 x 32 x 32 maps, 3x3 kernels without padding: 30 x 30 outputs
    n, c, h, k = 64, 512, 32, 3
    o = h - k + 1
    x, y = n * c * h * h, n * c * o * o          # activations of the whole batch
    weights = {"standard": c * c * k * k, "depthwise": c * k * k, "pointwise": c * c}
    traffic = {"standard": x + weights["standard"] + y,
               "depthwise": x + weights["depthwise"] + n * c * o * o,
               "pointwise": n * c * o * o + weights["pointwise"] + y}
    # 1 multiply-add = 2 FLOPs; one multiply-add per weight per output position per image
    flops = {name: 2 * n * o * o * w for name, w in weights.items()}
    assert traffic["standard"] == 65_404_928
    part = next(p for p in _solved("8.19").parts if p.part.label == "c")
    table = next(b for b in part.blocks if isinstance(b, Table))
    rows = {r[0]: r for r in table.rows}
    assert set(rows) == set(traffic)
    for name in traffic:
        assert rows[name][1] == flops[name], name
        assert rows[name][2] == traffic[name], name
        assert rows[name][3] == f"{flops[name] / traffic[name]:.1f}", name
    assert "once" in table.caption and "per image" in table.caption


def _part_blocks(pid: str, label: str):
    """Solve one part on its own; its blocks."""
    from derive.book.sheet import Sheet
    part = next(p for p in _load(pid).parts if p.label == label)
    sheet = Sheet()
    part.solve(sheet)
    return sheet.blocks


def _circular_conv(x, k, stride):
    """Cross-correlation with circular padding (K - 1)/2, by explicit loops."""
    n0, n1 = x.shape
    p = (k.shape[0] - 1) // 2
    return [[sum(int(k[u, v]) * int(x[(stride * i + u - p) % n0, (stride * j + v - p) % n1])
                 for u in range(k.shape[0]) for v in range(k.shape[1]))
             for j in range(n1 // stride)] for i in range(n0 // stride)]


def _zero_padded_conv(x, k):
    n0, n1 = x.shape
    p = (k.shape[0] - 1) // 2
    return [[sum(int(k[u, v]) * int(x[i + u - p, j + v - p])
                 for u in range(k.shape[0]) for v in range(k.shape[1])
                 if 0 <= i + u - p < n0 and 0 <= j + v - p < n1)
             for j in range(n1)] for i in range(n0)]


@pytest.mark.parametrize("label", ["a", "b", "f"])
def test_8_22_counterexamples_recompute_from_what_is_shown(label):
    import numpy as np

    from derive.book.model import MatrixView
    blocks = _part_blocks("8.22", label)
    shown = [(b.name, np.asarray(b.matrix)) for b in blocks if isinstance(b, MatrixView)]
    names = [n for n, _ in shown]
    # the layer's own numbers are shown before the counterexample input
    layer_name = "W" if label == "f" else "w"
    last_layer = max(k for k, n in enumerate(names) if n == layer_name)
    last_x = max(k for k, n in enumerate(names) if n == "x")
    assert last_layer < last_x, names
    layer, x = shown[last_layer][1], shown[last_x][1]
    shifted = np.roll(x, 1, axis=1)                        # every case shifts by (0, 1)
    if label == "a":
        shifted = np.zeros_like(x)
        shifted[:, 1:] = x[:, :-1]                         # zero-fill shift
        expected = _zero_padded_conv(shifted, layer)
    elif label == "b":
        expected = _circular_conv(shifted, layer, 2)
    else:
        expected = [[int(v) for v in layer @ shifted.ravel()]]
    f_tx = next(b for b in blocks if isinstance(b, Check)
                and b.why.startswith("the output for the shifted input"))
    assert np.asarray(f_tx.lhs).tolist() == expected


def test_8_22_batch_norm_parameters_are_shown():
    from derive.book.model import MatrixView
    for label in ("d",):
        blocks = _part_blocks("8.22", label)
        tables = [b for b in blocks if isinstance(b, Table)]
        assert [t.headers[:3] for t in tables] == [("channel", "scale $gamma$",
                                                     "shift $beta$")] * 2
        assert "running variance" in tables[1].headers
        images = [b for b in blocks if isinstance(b, MatrixView) and b.name == "x"]
        assert len(images) == 2 and all(len(b.matrix) == 4 for b in images)


@pytest.mark.parametrize("label", ["a", "b", "c"])
def test_8_22_index_derivations_hold_at_every_small_instance(label):
    # every displayed line of the index chains, evaluated at small integers: all lines of a
    # chain give the same index, and the last is the index the shifted output reads
    import itertools
    blocks = _part_blocks("8.22", label)
    chains = [b for b in blocks if isinstance(b, Derivation) and b.lhs == "j"]
    assert chains
    for chain in chains:
        exprs = [s.expr for s in chain.steps]
        names = sorted({q for e in exprs for q in e.free_symbols}, key=lambda q: q.name)
        for values in itertools.product(range(-2, 5), repeat=len(names)):
            point = dict(zip(names, values))
            if any(point[q] < 1 for q in names if q.name in ("n", "m")) or any(
                    point[q] < 0 for q in names if q.name in ("i", "u", "p")):
                continue
            got = {int(e.subs(point)) for e in exprs}
            assert len(got) == 1, (label, point, got)


def test_8_22_zero_padding_interior_by_loops():
    # the claim the derivation of 8.22(a) proves, recomputed with plain loops: on the
    # interior p + s <= i <= n - K + p, the layer on the zero-filled shift at i equals the
    # layer on x at i - s
    import random
    rng = random.Random(822)
    for n in range(3, 8):
        for k in (1, 3, 5):
            if k > n:
                continue
            p = (k - 1) // 2
            w = [rng.randint(-3, 3) for _ in range(k)]
            x = [rng.randint(-3, 3) for _ in range(n)]

            def conv(a, i):
                return sum(w[u] * a[i + u - p] for u in range(k) if 0 <= i + u - p < n)
            for s in range(0, n):
                shifted = [x[j - s] if j >= s else 0 for j in range(n)]
                for i in range(p + s, n - k + p + 1):
                    assert conv(shifted, i) == conv(x, i - s), (n, k, s, i)


def test_8_22_shifted_average_by_enumeration():
    # the re-indexed sum of 8.22(d)(e): a circular shift does not change a full sum
    import random
    rng = random.Random(22)
    blocks = _part_blocks("8.22", "e")
    assert any(isinstance(b, Derivation) and any(
        isinstance(s.expr, sympy.Mul) and s.expr.has(sympy.Sum) for s in b.steps)
        for b in blocks)
    for n in range(1, 12):
        x = [rng.randint(-9, 9) for _ in range(n)]
        for s in range(-n, 2 * n):
            assert sum(x[(j - s) % n] for j in range(n)) == sum(x)


def test_8_15_depth_and_paths_by_counting():
    blocks = next(n for n in range(1, 40) if 6 * n + 2 == 56)       # 56 = 6n + 2
    part = _part_blocks("8.15", "b")
    answers = {b.label: b.value for b in part if isinstance(b, Answer)}
    assert answers["blocks per stage"] == blocks
    # a path takes or skips the branch of each of the 3n blocks: the paths that take k
    # branches, summed over k
    assert answers["paths through the residual blocks"] == sum(
        math.comb(3 * blocks, k) for k in range(3 * blocks + 1))


def test_8_18_long_vectors_are_summarised():
    # no cross-check of 8.18(a) shows a column or matrix of more than a dozen entries: the
    # 120 slopes and frequency bins are compared as flat sequences (shown by their ends)
    import numpy as np
    part = next(p for p in _solved("8.18").parts if p.part.label == "a")
    for check in part.cross_checks:
        for side in (check.lhs, check.rhs):
            a = np.asarray(side)
            assert a.ndim <= 1 or a.size <= 12, (check.why, a.shape)


def test_8_25_sizes_are_shown_and_give_the_counts():
    from derive.book.model import Text
    blocks = _part_blocks("8.25", "a")
    sizes = next(b for b in blocks if isinstance(b, Table) and b.headers[0] == "quantity")
    value = {r[1].strip("$"): r[2] for r in sizes.rows}
    v, e, f = value["V"], value["E"], value["F"]
    text = " ".join(b.text for b in blocks if isinstance(b, Text))
    assert f"$V$ = {v:,}" in text and f"$E$ = {e}" in text and f"$F$ = {f}" in text
    counts = next(b for b in blocks if isinstance(b, Table) and b.headers[0] == "configuration")
    configs = [((3,), f), ((3, 5, 7), f), ((3, 4, 5), 2 * f)]
    for row, (kernels, filters) in zip(counts.rows, configs):
        assert row[1] == len(kernels) * filters
        assert row[3] == v * e + sum(filters * e * k + filters for k in kernels)
    # the out-of-scope reasons state the sizes the counts assume
    reasons = {p.label: p.reason for p in _load("8.25").parts}
    assert f"{v:,} words" in reasons["a"] and f"dimension {e}" in reasons["a"]
    assert f"{f} filters" in reasons["a"] and f"{2 * f} in (iii)" in reasons["a"]
    assert f"descriptions of {value['L']} tokens" in reasons["a"]
    text_b = " ".join(b.text for b in _part_blocks("8.25", "b") if isinstance(b, Text))
    (items,) = re.findall(r"([\d,]+) items is", text_b)
    assert f"catalogue of {items} items" in reasons["b"]
    assert ", ".join(str(r[1]) for r in counts.rows[:2]) in reasons["b"]


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
    assert answers["receptive field of the stack"] == f"{len(offsets)}×{len(offsets)}"
    c = sympy.Symbol("C", integer=True, positive=True)
    assert answers["parameters of the dilated stack (no bias)"] == 3 * 9 * c ** 2
    assert answers["parameters of one 15×15 layer (no bias)"] == 15 * 15 * c ** 2


def test_8_24_effective_kernel_by_counting_the_window():
    # every input position from the first tap (offset 0) to the last (offset 2d) is in the
    # window, skipped ones included
    answer = _answers(_solved("8.24"), "a")["effective kernel = single-layer field, per axis"]
    (d,) = answer.free_symbols
    for dv in range(1, 8):
        taps = [u * dv for u in range(3)]
        window = set(range(min(taps), max(taps) + 1))
        assert answer.subs(d, dv) == len(window)


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
    assert answers["dimensions"] == f"{9} × {windows}"


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
    answer = _answers(_solved("8.23"), "c")["dL/dx, L the sum of the outputs"]
    assert answer.tolist() == grad.tolist()


@pytest.mark.slow
def test_8_23_flipped_input_gradient_by_loops():
    # the answer of (b) (stride and dilation 1, any padding) against the gradient of
    # y[i] = sum_u w[u] x_pad[i + u], accumulated by loops over outputs and taps
    import random
    (answer,) = _answers(_solved("8.23"), "b").values()
    rng = random.Random(8231)
    names = {s.name: s for s in answer.free_symbols}
    for _ in range(12):
        k, o, p = rng.randint(1, 4), rng.randint(1, 5), rng.randint(0, 2)
        h = o + k - 1 - 2 * p
        if h < 1:
            continue
        w = [rng.randint(-4, 4) for _ in range(k)]
        g = [rng.randint(-4, 4) for _ in range(o)]
        grad = [0] * h
        for i in range(o):
            for u in range(k):
                if 0 <= i + u - p < h:
                    grad[i + u - p] += g[i] * w[u]
        for m in range(h):
            value = answer.subs({names["K"]: k, names["O"]: o, names["P"]: p, names["m"]: m})
            value = value.doit()
            value = value.replace(lambda e: isinstance(e, sympy.Indexed),
                                  lambda e: {"g": g, "w": w}[str(e.base)][int(e.indices[0])])
            assert sympy.simplify(value) == grad[m], (k, o, p, m)


def test_8_28_design_and_loss_questions_are_marked_as_explanations():
    statuses = {p.part.label: p.status for p in _solved("8.28").parts}
    assert statuses == {"a": "proved", "b": "code", "c": "explanation",
                        "d": "explanation"}


@pytest.mark.slow
def test_8_26_marks_and_gaussian_cutoff_by_bisection():
    result = _solved("8.26")
    statuses = {p.part.label: p.status for p in result.parts}
    assert statuses == {"a": "proved", "b": "proved", "c": "explanation",
                        "d": "explanation"}
    cutoff = next(v for k, v in _answers(result, "a").items() if str(k) == "omega_c")
    (sigma,) = cutoff.free_symbols
    for s in (0.7, 1.3, 2.0):
        lo, hi = 0.0, 20.0                 # exp(-s^2 w^2) falls through 1/2 once on w > 0
        for _ in range(200):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if math.exp(-(s * mid) ** 2) > 0.5 else (lo, mid)
        assert abs(float(cutoff.subs(sigma, s)) - lo) < 1e-12


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
