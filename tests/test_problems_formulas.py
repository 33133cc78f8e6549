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
# Parts that ask for an explanation ("why ..."): marked as explanations, whatever checked
# facts support them.
EXPLANATION_PARTS = {("formulas-9", "9.2")}


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
        if (result.problem.id, part.part.label) in EXPLANATION_PARTS:
            assert part.status == "explanation", f"{where}: {part.status}"
        else:
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
        for part in p.parts:
            expected = "explanation" if (p.id, part.label) in EXPLANATION_PARTS else "checked"
            assert part.solve is not None and part.scope == expected, (p.id, part.label)


# ------------------------------------------------------------------------------ solving
@pytest.mark.parametrize("pid", CHEAP)
def test_cheap_sections_solve_with_checked_evidence(problems, pid: str) -> None:
    _check_parts(solve(problems[pid]))


@pytest.mark.slow
def test_every_section_solves_with_checked_evidence(solved) -> None:
    counts = {"proved": 0, "tested": 0, "explanation": 0}
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
    assert _answer(r3, "3.1", "3 by 3 kernel, 64 to 128 channels") == (
        np.zeros((128, 64, 3, 3)).size + 128)


@pytest.mark.slow
def test_bottleneck_ratio_by_hand(solved) -> None:
    m = 16
    bottleneck = (4 * m) * m + 9 * m * m + m * (4 * m)
    basic = 2 * 9 * (4 * m) ** 2
    assert _answer(solved["formulas-7"], "7.3", "parameter ratio (e = 4)") == sympy.Rational(
        bottleneck, basic)


def _part(problems, pid: str, label: str):
    """Solve one part on its own (cheaper than the whole section); its blocks by kind."""
    from derive.book.sheet import Sheet

    part = next(p for p in problems[pid].parts if p.label == label)
    sheet = Sheet()
    part.solve(sheet)
    return sheet.blocks


def _answers_of(blocks) -> dict[str, object]:
    return {b.label: b.value for b in blocks if isinstance(b, Answer)}


# VGG-16's feature extractor as (name, kernel, stride): 3x3 stride-1 convolutions, 2x2
# stride-2 max pooling closing each of the five blocks
VGG16 = [(f"conv{b}_{i}", 3, 1) if i else (f"pool{b}", 2, 2)
         for b, n in enumerate((2, 2, 3, 3, 3), start=1) for i in [*range(1, n + 1), 0]]


def _field_by_walking_back(layers) -> int:
    """Input positions one output unit depends on, found by walking back (no padding)."""
    seen = {0}
    for _, k, s in reversed(layers):
        seen = {s * i + u for i in seen for u in range(k)}
    return max(seen) - min(seen) + 1


def test_vgg16_fields_by_brute_force(problems) -> None:
    answers = _answers_of(_part(problems, "formulas-5", "5.2"))
    last_conv = max(i for i, (name, _, _) in enumerate(VGG16) if name.startswith("conv"))
    assert VGG16[last_conv][0] == "conv5_3" and VGG16[-1][0] == "pool5"
    conv_field = _field_by_walking_back(VGG16[:last_conv + 1])
    pool_field = _field_by_walking_back(VGG16)
    assert (conv_field, pool_field) == (196, 212)
    assert answers["VGG-16 (last conv, conv5.3)"] == conv_field
    assert answers["VGG-16 (after pool5)"] == pool_field
    assert not any(v == pool_field for k, v in answers.items() if "conv" in k)


def test_receptive_field_matches_published_vgg16(problems) -> None:
    path = REFERENCE / "receptive_field_tfslim.json"
    if not path.exists():
        pytest.skip("reference data not present")
    published = json.loads(path.read_text())["networks"]["vgg_16"]
    answers = _answers_of(_part(problems, "formulas-5", "5.2"))
    assert published["per_layer"][-1][0] == "pool5"
    assert answers["VGG-16 (after pool5)"] == published["size"]
    # the published table lists conv5_2 (164) at effective stride 16: conv5_3 adds (3 - 1) * 16
    conv5_2 = dict((r[0], r[1:]) for r in published["per_layer"])["conv5_2"]
    assert answers["VGG-16 (last conv, conv5.3)"] == conv5_2[0] + 2 * conv5_2[1]


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
    assert _answer(r8, "8.1", "ResNet-50 head (2048 features, 1000 classes)") == (
        2048 * 1000 + 1000)
    # torchvision's ResNet-50 has 25,557,032 parameters with its 1000-class head; a 10-class
    # head replaces 2048 * 1000 + 1000 of them by 2048 * 10 + 10
    full = 25_557_032 - (2048 * 1000 + 1000) + (2048 * 10 + 10)
    assert _answer(r8, "8.5", "full fine-tuning, 10 classes") == full
    percent = float(_answer(r8, "8.5", "trainable fraction"))
    assert abs(percent - 100 * (2048 * 10 + 10) / full) < 5e-3


# ------------------------------------------------------------------------------ boxed relations
def _by_name(expr, name: str):
    return next(s for s in expr.free_symbols if s.name == name)


def test_central_difference_relation_by_expanding_a_quintic(problems) -> None:
    from sympy.core.function import AppliedUndef

    answers = _answers_of(_part(problems, "formulas-6", "6.5"))
    relation, error = answers["central difference"], answers["its error"]
    coeffs = [7, -1, 4, 1, -3, 2]                  # p(t) = 7 - t + 4t^2 + t^3 - 3t^4 + 2t^5

    def p(t, k=0):
        """k-th derivative of p at t, by the power rule on the coefficients."""
        total = Fraction(0)
        for n, c in enumerate(coeffs):
            if n >= k:
                factor = 1
                for j in range(k):
                    factor *= n - j
                total += c * factor * Fraction(t) ** (n - k)
        return total

    f = next(iter(relation.lhs.atoms(AppliedUndef))).func
    t = sympy.Dummy("t")
    poly = sympy.Lambda(t, sum(c * t**n for n, c in enumerate(coeffs)))

    def at(expr, x0, e0):
        expr = expr.replace(f, poly).doit()
        return expr.subs({_by_name(relation.lhs, "x"): x0, _by_name(relation.lhs, "e"): e0})

    assert relation.rhs.getO() is not None and error.rhs.getO() is not None
    for x0 in (Fraction(3, 2), Fraction(-2, 7)):
        for e0 in (Fraction(1, 10), Fraction(1, 1000)):
            central = (p(x0 + e0) - p(x0 - e0)) / (2 * e0)
            leading = p(x0, 1) + e0**2 * p(x0, 3) / 6
            # what the relation leaves out is of order e^4 for this quintic
            assert central - leading == e0**4 * p(x0, 5) / 120
            rational = lambda v: sympy.Rational(v.numerator, v.denominator)  # noqa: E731
            xs, es = rational(x0), rational(e0)
            assert at(relation.lhs, xs, es) == rational(central)
            assert at(relation.rhs.removeO(), xs, es) == rational(leading)
            assert at(error.lhs, xs, es) == rational(central - p(x0, 1))
            assert at(error.rhs.removeO(), xs, es) == rational(e0**2 * p(x0, 3) / 6)


def test_strided_convolution_relation_reads_and_holds(problems) -> None:
    from derive.render.printer import to_latex

    relation = _answers_of(_part(problems, "formulas-4", "4.3"))["strided convolution"]
    latex = to_latex(relation)
    assert "_{1[" not in latex and "_{S[" not in latex and "*" not in latex, latex
    assert "=" in latex
    (i,) = relation.lhs.indices
    S = _by_name(relation.rhs, "S")
    rng = np.random.default_rng(43)
    for stride in (1, 2, 3):
        for n, k, pad in ((11, 3, 1), (12, 4, 0), (9, 2, 2)):
            x = np.pad(rng.integers(-4, 5, size=n), pad)
            w = rng.integers(-4, 5, size=k)
            full = np.correlate(x, w, mode="valid")          # stride 1
            strided = [int(np.dot(w, x[stride * t:stride * t + k]))
                       for t in range((len(x) - k) // stride + 1)]
            for t, value in enumerate(strided):
                at = {i: t, S: stride}
                assert relation.lhs.indices[0].subs(at) == t
                assert value == full[int(relation.rhs.indices[0].subs(at))]


def test_max_pooling_relation_against_sliding_windows(problems) -> None:
    from numpy.lib.stride_tricks import sliding_window_view

    from derive.render.printer import to_latex

    relation = _answers_of(_part(problems, "formulas-4", "4.1"))["max pooling"]
    assert isinstance(relation, sympy.Eq)
    assert r"\max" in to_latex(relation)
    body, u, last_u, v, last_v = relation.rhs.args
    i, j = relation.lhs.indices
    K, S = _by_name(last_u, "K"), _by_name(body, "S")
    rng = np.random.default_rng(41)
    img = rng.integers(-20, 21, size=(9, 10))
    for k in (1, 2, 3):
        for s in (1, 2, 3):
            expected = sliding_window_view(img, (k, k))[::s, ::s].max(axis=(2, 3))
            at = {K: k, S: s}
            taps = [(a, b) for a in range(int(last_u.subs(at)) + 1)
                    for b in range(int(last_v.subs(at)) + 1)]
            assert len(taps) == k * k
            for r in range(expected.shape[0]):
                for c in range(expected.shape[1]):
                    values = []
                    for a, b in taps:
                        row, col = body.subs(at).subs({i: r, j: c, u: a, v: b}).indices
                        values.append(img[int(row), int(col)])
                    assert max(values) == expected[r, c], (k, s, r, c)


def test_batch_norm_relation_against_numpy(problems) -> None:
    answers = _answers_of(_part(problems, "formulas-7", "7.4"))
    bn_map, mean_rel, var_rel = (answers[n] for n in ("batch-norm map", "batch mean",
                                                      "batch variance"))
    assert all(isinstance(r, sympy.Eq) for r in (bn_map, mean_rel, var_rel))
    (k,) = bn_map.lhs.indices
    names = {s.name: s for r in (bn_map, mean_rel, var_rel) for s in r.free_symbols}
    x = next(a.base for a in bn_map.rhs.atoms(sympy.Indexed))
    rng = np.random.default_rng(74)
    batch = rng.normal(2.0, 3.0, size=(3, 2, 2, 2))           # N, C, H, W
    gamma, beta, eps = rng.normal(size=2), rng.normal(size=2), 1e-5
    mean = batch.mean(axis=(0, 2, 3))
    var = ((batch - mean[None, :, None, None]) ** 2).mean(axis=(0, 2, 3))
    expected = (gamma[None, :, None, None] * (batch - mean[None, :, None, None])
                / np.sqrt(var[None, :, None, None] + eps) + beta[None, :, None, None])
    for c in range(2):
        values = batch[:, c].ravel()
        entries = {x[t]: float(v) for t, v in enumerate(values)}
        at = {names["M"]: values.size}
        mu = float(mean_rel.rhs.subs(at).doit().xreplace(entries))
        assert abs(mu - mean[c]) < 1e-12
        assert mean_rel.lhs == names["mu"]
        s2 = float(var_rel.rhs.subs(at).subs(names["mu"], mu).doit().xreplace(entries))
        assert abs(s2 - var[c]) < 1e-12
        fixed = {names["mu"]: mu, var_rel.lhs: s2, names["epsilon"]: eps,
                 names["gamma"]: gamma[c], names["beta"]: beta[c]}
        got = [float(bn_map.rhs.subs(k, t).xreplace(entries).subs(fixed))
               for t in range(values.size)]
        assert np.allclose(got, expected[:, c].ravel(), atol=1e-12, rtol=0)


def test_top_down_merge_relation_against_numpy(problems) -> None:
    relation = _answers_of(_part(problems, "formulas-8", "8.4"))["top-down merge"]
    assert isinstance(relation, sympy.Eq)
    c, i, j = relation.lhs.indices
    bases = {str(b.base): b.base for b in relation.rhs.atoms(sympy.Indexed)}
    assert set(bases) == {"a", "b", "F_l", "P_l+1"}
    (channels,) = [s for s in relation.rhs.free_symbols if s.name == "C_l"]
    rng = np.random.default_rng(84)
    feature = rng.integers(-5, 6, size=(4, 6, 4))          # F_l: 4 channels on 6 x 4
    weight = rng.integers(-3, 4, size=(3, 4))              # lateral 1 x 1: 4 -> 3 channels
    bias = rng.integers(-3, 4, size=3)
    coarse = rng.integers(-5, 6, size=(3, 3, 2))           # P_(l+1) on 3 x 2
    expected = (np.einsum("ck,kij->cij", weight, feature) + bias[:, None, None]
                + np.kron(coarse, np.ones((1, 2, 2), dtype=int)))
    arrays = {"a": weight, "b": bias, "F_l": feature, "P_l+1": coarse}
    rhs = relation.rhs.subs(channels, feature.shape[0]).doit()
    for idx in np.ndindex(expected.shape):
        term = rhs.subs(dict(zip((c, i, j), idx)))
        value = term.xreplace({ref: int(arrays[str(ref.base)][tuple(int(t) for t in ref.indices)])
                               for ref in term.atoms(sympy.Indexed)})
        assert value == expected[idx], idx


def test_attention_section_uses_only_its_own_symbols(problems) -> None:
    from derive.book.model import Text

    blocks = _part(problems, "formulas-9", "9.5")
    declared = {"H", "W", "d", "K", "r"}
    text = " ".join(b.text for b in blocks if isinstance(b, Text))
    assert "Symbols: $H$×$W$ feature map, $d$ channels, $K$ kernel, $r > 0$ scale" in text
    used = set()
    for b in blocks:
        exprs = []
        if isinstance(b, Derivation):
            exprs = [s.expr for s in b.steps]
        elif isinstance(b, Check):
            exprs = [b.lhs, b.rhs]
        elif isinstance(b, Answer):
            exprs = [b.value]
        for e in exprs:
            if isinstance(e, sympy.Basic):
                used |= {s.name for s in e.free_symbols}
    assert used and used <= declared, used - declared


# ------------------------------------------------------------------------------ new arguments
def test_dilated_kernel_width_by_enumerating_taps(problems) -> None:
    """2.3: the width is derived from the model's window, not from the engine's own formula;
    check it against the taps of a dilated kernel and against a zero-stuffed dense kernel."""
    rel = _answers_of(_part(problems, "formulas-2", "2.3"))["dilated kernel width"]
    names = {s.name: s for s in rel.rhs.free_symbols}
    rng = np.random.default_rng(23)
    for k in range(1, 7):
        for d in range(1, 5):
            taps = [d * t for t in range(k)]
            width = int(rel.rhs.subs({names["K"]: k, names["D"]: d}))
            assert width == max(taps) - min(taps) + 1
            x = rng.integers(-5, 6, size=width + 7)
            w = rng.integers(-5, 6, size=k)
            stuffed = np.zeros(width, dtype=int)
            stuffed[taps] = w
            dilated = [int(sum(w[t] * x[i + d * t] for t in range(k)))
                       for i in range(len(x) - width + 1)]
            assert dilated == list(np.correlate(x, stuffed, mode="valid"))


def test_bottleneck_ratio_for_every_expansion(problems) -> None:
    """7.3: the general ratio (2e + 9)/(18 e^2) against weight tensors counted by NumPy."""
    ratio = _answers_of(_part(problems, "formulas-7", "7.3"))["parameter ratio"]
    (e,) = ratio.free_symbols
    for expansion in range(1, 7):
        for m in (1, 3, 16):
            c = expansion * m
            bottleneck = sum(np.zeros(s, dtype=np.int8).size
                             for s in ((m, c, 1, 1), (m, m, 3, 3), (c, m, 1, 1)))
            basic = 2 * np.zeros((c, c, 3, 3), dtype=np.int8).size
            assert ratio.subs(e, expansion) == sympy.Rational(bottleneck, basic)


def test_embedded_vgg16_table_is_the_published_one() -> None:
    """5.2 carries a copy of the published TF-Slim values (so the page does not depend on
    the machine): it must match the reference data where that is present."""
    path = REFERENCE / "receptive_field_tfslim.json"
    if not path.exists():
        pytest.skip("reference data not present")
    published = json.loads(path.read_text())["networks"]["vgg_16"]
    module = next(load(pf) for pf in _files() if pf.relpath.endswith("f05_receptive_field.py"))
    import importlib
    f05 = importlib.import_module(module.parts[0].solve.__module__)
    assert f05.VGG16_PUBLISHED == (published["size"], published["stride"], published["padding"])
    assert [list(r) for r in f05.VGG16_PUBLISHED_LAYERS] == published["per_layer"]


def test_pages_do_not_depend_on_pytorch(problems, monkeypatch) -> None:
    """The cross-checks against PyTorch read the same whether it is installed or not."""
    import sys

    from derive.render import markdown

    with_torch = markdown.render_problem(solve(problems["formulas-9"]))
    monkeypatch.setitem(sys.modules, "torch", None)          # import torch now fails
    without = markdown.render_problem(solve(problems["formulas-9"]))
    assert with_torch == without
    assert "PyTorch" in without
