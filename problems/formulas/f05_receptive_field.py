"""Formula sheet, section 5: receptive fields.

Sizes and jumps come from the engine's layer recurrence (:func:`derive.conv.receptive.
receptive_field`) on symbolic layers, checked against the closed forms; the general-depth
induction is :func:`derive.conv.theorems.closed_form_induction`.  Cross-checks: walking
back from one output unit through the layers (brute force), the support of an input
gradient, the published TF-Slim table (when the reference data is present) and, for the
effective receptive field, exact rational arithmetic on repeated convolutions.
"""

from pathlib import Path

from derive.book import Part, Problem, Sheet

SEED = 0


def _walk_back(layers, unit: int = 0) -> set[int]:
    """Brute force: input positions that output ``unit`` of the last layer depends on
    (layers as (kernel, stride, dilation), no padding)."""
    seen = {unit}
    for k, s, d in reversed(layers):
        seen = {s * i + d * u for i in seen for u in range(k)}
    return seen


def _span(positions: set[int]) -> int:
    return max(positions) - min(positions) + 1


def _reference_table():
    """The published TF-Slim receptive fields, when the shared reference data is present."""
    import json

    for root in (Path(__file__).resolve().parents[2].parent / "shared" / "reference",
                 Path("/work/shared/reference")):
        path = root / "receptive_field_tfslim.json"
        if path.exists():
            return json.loads(path.read_text())
    return None


def _layers(kernels, strides=None, dilations=None):
    from derive.conv.layers import Layer

    n = len(kernels)
    strides = strides or [1] * n
    dilations = dilations or [1] * n
    return [Layer("conv", kernel=k, stride=s, dilation=d, name=f"layer {i + 1}")
            for i, (k, s, d) in enumerate(zip(kernels, strides, dilations))]


# ------------------------------------------------------------------------------ 5.1
def solve_5_1(sheet: Sheet) -> None:
    import numpy as np

    from derive.conv.receptive import receptive_field
    from derive.numeric import conv2d_backward
    from derive.symbols import syms

    K, D = syms("K D")
    field = receptive_field(_layers([K], dilations=[D]))
    sheet.text("Relation: one layer sees R = D(K - 1) + 1 consecutive input positions per "
               "axis (K for an ordinary kernel). Symbols: K >= 1 kernel size, D >= 1 "
               "dilation; stride and padding do not change the size of one window.")
    sheet.claim(field.size, D * (K - 1) + 1,
                why="the engine's receptive-field recurrence for one layer")
    pairs = [(k, d) for k in range(1, 6) for d in range(1, 4)]
    sheet.numeric([receptive_field(_layers([k], dilations=[d])).size for k, d in pairs],
                  [_span(_walk_back([(k, 1, d)])) for k, d in pairs],
                  method="span of the input positions one output reads, 15 (K, D) pairs")
    x = np.random.default_rng(SEED).standard_normal((1, 1, 9, 9))
    w = np.ones((1, 1, 3, 3))
    g = np.zeros((1, 1, 5, 5))
    g[0, 0, 2, 2] = 1.0
    grad = conv2d_backward(x, w, g, dilation=2)[0][0, 0]
    rows = np.nonzero(np.abs(grad).sum(axis=1))[0]
    sheet.numeric(receptive_field(_layers([3], dilations=[2])).size,
                  int(rows.max() - rows.min() + 1),
                  method="extent of the input gradient of one output of a 3x3 layer at "
                         "dilation 2 (derived backward formulas, NumPy)")
    sheet.answer("single layer", field.size)


# ------------------------------------------------------------------------------ 5.2
def solve_5_2(sheet: Sheet) -> None:
    import sympy

    from derive.arch.catalog import architecture
    from derive.arch.summary import summarize
    from derive.conv.receptive import receptive_field, receptive_field_table
    from derive.conv.theorems import closed_form_induction

    k, s = sympy.IndexedBase("k"), sympy.IndexedBase("s")
    l, i = sympy.symbols("l i", integer=True, positive=True)
    L = sympy.Symbol("L", integer=True, positive=True)
    closed = 1 + sympy.Sum((k[l] - 1) * sympy.Product(s[i], (i, 1, l - 1)), (l, 1, L))
    sheet.text("Relation: going from the input to layer L, layer l widens the field by "
               "(k_l - 1) times the product of the strides below it. Symbols: k_l effective "
               "kernel size of layer l (D_l(K_l - 1) + 1 when dilated), s_l its stride, "
               "l = 1, ..., L from the input side.")
    sheet.derive("R_L", [(closed, "closed form (Araujo et al., 2019)")])
    depth = 3
    layers = _layers([k[j] for j in range(1, depth + 1)], [s[j] for j in range(1, depth + 1)])
    rec = receptive_field(layers)
    sheet.derive("R_3", [
        (closed.xreplace({L: depth}), f"the closed form at L = {depth}"),
        (rec.size, "the engine's layer-by-layer recurrence R <- R + (k - 1) J, J <- J s")])
    steps = closed_form_induction()
    rows = []
    for st in steps:
        if st.statement.startswith("peeling of"):
            continue                    # sanity checks of the definition, not the argument
        status = st.verdict.status.value if st.verdict is not None else "definition"
        rows.extend((status, part.strip()) for part in st.statement.split(";"))
    sheet.table(["check", "step of the induction over L"], rows,
                caption="The engine's induction proving the closed form for every depth "
                        "(derive.conv.theorems.closed_form_induction).")
    chains = [[(3, 1), (3, 2), (5, 1)], [(7, 2), (3, 2), (3, 1), (3, 2)], [(2, 2)] * 4]
    sheet.numeric([receptive_field(_layers([a for a, _ in c], [b for _, b in c])).size
                   for c in chains],
                  [_span(_walk_back([(a, b, 1) for a, b in c])) for c in chains],
                  method="walk back from one output unit through each chain of "
                         "(kernel, stride) layers")
    vgg = summarize(architecture("vgg16"), convention="mac").receptive_field
    ref = _reference_table()
    if ref is not None:
        pub = ref["networks"]["vgg_16"]
        sheet.numeric((vgg.size, vgg.jump, vgg.start), (pub["size"], pub["stride"],
                                                        pub["padding"]),
                      method="the published TF-Slim table for vgg_16 (Araujo et al., 2019): "
                             "size, effective stride, effective padding")
    table = receptive_field_table(_layers([3, 3, 3], [1, 2, 1]))
    sheet.table(["after", "R", "J"], [(name, f.size, f.jump) for name, f in table],
                caption="Growth through three 3x3 layers with strides 1, 2, 1.")
    sheet.answer("stacked layers", closed)
    sheet.answer("VGG-16 (last conv)", vgg.size)


# ------------------------------------------------------------------------------ 5.3
def solve_5_3(sheet: Sheet) -> None:
    import sympy

    from derive.conv.receptive import receptive_field

    k, s = sympy.IndexedBase("k"), sympy.IndexedBase("s")
    l = sympy.Symbol("l", integer=True, positive=True)
    L = sympy.Symbol("L", integer=True, positive=True)
    jump = sympy.Product(s[l], (l, 1, L))
    sheet.text("Relation: neighbouring units of layer L look at input windows J_L input "
               "positions apart, the product of the strides up to L (the effective stride). "
               "Symbols: s_l stride of layer l, J_0 = 1 for the input itself.")
    sheet.derive("J_L", [(jump, "definition by the recurrence J_l = J_(l-1) s_l, J_0 = 1")])
    depth = 3
    layers = _layers([k[j] for j in range(1, depth + 1)], [s[j] for j in range(1, depth + 1)])
    sheet.claim(jump.xreplace({L: depth}), receptive_field(layers).jump,
                why="the product at L = 3 against the engine's recurrence")
    chains = [[(3, 2), (3, 2), (3, 1)], [(7, 2), (3, 2), (3, 1), (3, 2)], [(5, 3), (2, 2)]]
    sheet.numeric([receptive_field(_layers([a for a, _ in c], [b for _, b in c])).jump
                   for c in chains],
                  [min(_walk_back([(a, b, 1) for a, b in c], 1))
                   - min(_walk_back([(a, b, 1) for a, b in c], 0)) for c in chains],
                  method="distance between the first input positions of output units 0 and 1, "
                         "by walking back through each chain")
    sheet.answer("jump", jump)


# ------------------------------------------------------------------------------ 5.4
def solve_5_4(sheet: Sheet) -> None:
    import sympy

    from derive.conv.costs import conv_cost, dilated_conv_cost
    from derive.conv.receptive import receptive_field
    from derive.symbols import syms

    Kk, Dd = sympy.IndexedBase("K"), sympy.IndexedBase("D")
    l = sympy.Symbol("l", integer=True, positive=True)
    L = sympy.Symbol("L", integer=True, positive=True)
    relation = 1 + sympy.Sum(Dd[l] * (Kk[l] - 1), (l, 1, L))
    sheet.text("Relation: at stride 1 every layer adds D_l (K_l - 1) positions, so dilation "
               "grows the field linearly in D_l while the weights stay K_l x K_l; doubling "
               "D_l layer after layer grows it exponentially in depth. Symbols: K_l kernel "
               "size, D_l dilation of layer l, all strides 1.")
    depth = 3
    layers = _layers([Kk[j] for j in range(1, depth + 1)], dilations=[Dd[j] for j in
                                                                      range(1, depth + 1)])
    sheet.derive("R_3", [(relation.xreplace({L: depth}), "the relation at L = 3"),
                         (receptive_field(layers).size, "the engine's recurrence")])
    c_in, c_out, K, H, D = syms("C_in C_out K H D")
    sheet.claim(dilated_conv_cost(c_in, c_out, K, H, dilation=D, convention="mac").params,
                conv_cost(c_in, c_out, K, 1, convention="mac").params,
                assume=["H >= D*(K - 1) + 1"],
                why="dilation does not change the number of parameters")
    stacks = [[1, 2, 4], [1, 2, 4, 8], [2, 2, 2]]
    sheet.numeric([receptive_field(_layers([3] * len(d), dilations=d)).size for d in stacks],
                  [_span(_walk_back([(3, 1, x) for x in d])) for d in stacks],
                  method="walk back through 3x3 layers with dilations (1, 2, 4), (1, 2, 4, 8) "
                         "and (2, 2, 2)")
    sheet.answer("dilation effect (stride 1)", relation)


# ------------------------------------------------------------------------------ 5.5
def _repeated_box(k: int, depth: int) -> list[int]:
    """Integer counts of the ``depth``-fold convolution of a box of ``k`` ones (NumPy)."""
    import numpy as np

    out = np.array([1], dtype=np.int64)
    for _ in range(depth):
        out = np.convolve(out, np.ones(k, dtype=np.int64))
    return [int(v) for v in out]


def _exact_variance(counts: list[int]):
    """Variance of the distribution proportional to ``counts``, in exact fractions."""
    from fractions import Fraction

    total = sum(counts)
    mean = Fraction(sum(t * c for t, c in enumerate(counts)), total)
    return sum(c * (t - mean) ** 2 for t, c in enumerate(counts)) / total


def solve_5_5(sheet: Sheet) -> None:
    import math

    import sympy

    from derive.conv.receptive import repeated_receptive_field
    from derive.symbols import syms

    K, L = syms("K L")
    u = sympy.Symbol("u", integer=True, nonnegative=True)
    l = sympy.Symbol("l", integer=True, positive=True)
    c = (K - 1) / sympy.Integer(2)
    sheet.text("Relation: through L stride-1 layers of the K-tap averaging kernel, the weight "
               "of an input position on one output is the L-fold convolution of the box "
               "kernel, i.e. the distribution of a sum of L independent uniform offsets in "
               "{0, ..., K - 1}. Its variance is L(K^2 - 1)/12: the spread grows like "
               "sqrt(L) while the theoretical field L(K - 1) + 1 grows like L, so the "
               "influence concentrates near the centre. Symbols: K >= 1 kernel size, L >= 1 "
               "depth, u a tap.")
    one = sympy.Sum((u - c) ** 2, (u, 0, K - 1)) / K
    one_value = sympy.factor(one.doit())
    sheet.derive("Var(U)", [
        (one, "one layer: the offset U is uniform on 0, ..., K - 1 with mean (K - 1)/2"),
        (one_value, "evaluate the sum (SymPy)")])
    sheet.claim(sympy.Sum(u - c, (u, 0, K - 1)), 0,
                why="the centred offsets sum to zero, so the cross term 2 E[(Z - E Z)(U - E U)] "
                    "= 2 E[Z - E Z] E[U - E U] vanishes for the independent offset of the next "
                    "layer: Var(Z + U) = Var(Z) + Var(U)")
    total = sympy.Sum(one_value, (l, 1, L))
    variance = sympy.factor(total.doit())
    sheet.derive("Var(Z_L)", [(total, "one Var(U) per layer"), (variance, "evaluate")])
    cases = [(k, d) for k in (2, 3, 5) for d in (1, 2, 3, 6)]
    sheet.numeric([variance.subs({K: k, L: d}) for k, d in cases],
                  [sympy.Rational(_exact_variance(_repeated_box(k, d)).numerator,
                                  _exact_variance(_repeated_box(k, d)).denominator)
                   for k, d in cases],
                  method="exact variance (fractions) of the weights obtained by convolving the "
                         "box kernel with itself L times (numpy.convolve on integers)")
    rows = []
    for d in (1, 2, 4, 8, 16, 32):
        size = repeated_receptive_field(d, 3).size
        std = math.sqrt(float(variance.subs({K: 3, L: d})))
        rows.append((d, size, f"{std:.2f}", f"{std / size:.3f}"))
    sheet.table(["L", "field R = 2L + 1", "std of the weights", "std / R"], rows,
                caption="K = 3: the theoretical field grows like L, the effective spread like "
                        "sqrt(L).")
    sheet.answer("effective field variance", variance)


PROBLEM = Problem(
    id="formulas-5", set="formulas", order=5, title="Receptive field",
    source="Chapter notes, section 5",
    statement="How far into the input one unit of a deep layer can see, and where its "
              "influence actually concentrates.",
    parts=(
        Part("5.1", "Single layer: how much of the input one layer sees.", solve_5_1),
        Part("5.2", "Stacked layers: how the field grows as layers are added.", solve_5_2),
        Part("5.3", "Jump: how far apart, in input pixels, neighbouring units of a deep "
                    "layer are.",
             solve_5_3),
        Part("5.4", "Dilation effect: widening the view at no cost in weights.", solve_5_4),
        Part("5.5", "Effective receptive field: inputs near the middle of the field matter "
                    "most. Quantify the spread.",
             solve_5_5),
    ),
)
